"""Values the fake Graph API and its payload checks share."""

from __future__ import annotations

import re
from typing import Final

MEDIA_TYPES: Final = ("image", "video", "audio", "document", "sticker")
TYPES: Final = ("text", *MEDIA_TYPES, "template", "interactive", "location", "contacts", "reaction")
E164: Final = re.compile(r"\+[1-9][0-9]{7,14}")
