"""Values the fake Graph API and its payload checks share."""

from __future__ import annotations

import re
from typing import Final

MEDIA_TYPES: Final = ("image", "video", "audio", "document", "sticker")
TYPES: Final = ("text", *MEDIA_TYPES, "template", "interactive", "location", "contacts", "reaction")
E164: Final = re.compile(r"\+[1-9][0-9]{7,14}")
BSUID: Final = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")
GROUP_ID: Final = re.compile(r"[A-Za-z0-9_=-]{1,128}")
