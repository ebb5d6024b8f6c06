// The template picker: the approved templates of the sender, and a field per parameter.
import { h } from "./dom.js";

export function fillPicker(select, templates) {
  const usable = templates.filter((t) => t.status === "APPROVED");
  select.replaceChildren(
    ...usable.map((t, i) =>
      h("option", { value: String(i), dataset: { name: t.name, language: t.language } }, `${t.name} (${t.language})`),
    ),
  );
  select.usable = usable;
}

function chosen(select) {
  return select.usable?.[Number(select.value)] ?? null;
}

export function paramInputs(select, holder) {
  const template = chosen(select);
  const params = template?.params.body ?? [];
  holder.replaceChildren(
    ...(template?.body ? [h("span", { class: "muted template-body" }, template.body)] : []),
    ...params.map((name) =>
      h("input", {
        class: "param",
        placeholder: `{{${name}}}`,
        "aria-label": `Parameter ${name}`,
        dataset: { param: name },
        required: true,
      }),
    ),
  );
}

// The `template` value of a send, from the picker and its fields (numbered parameters
// as a list in order, named ones as an object).
export function templateParams(select, holder) {
  const template = chosen(select);
  if (!template) return null;
  const fields = [...holder.querySelectorAll("input.param")];
  const numbered = fields.every((f) => /^\d+$/.test(f.dataset.param));
  const params = numbered
    ? fields.map((f) => f.value)
    : Object.fromEntries(fields.map((f) => [f.dataset.param, f.value]));
  return {
    name: template.name,
    language: template.language,
    ...(fields.length ? { params } : {}),
  };
}
