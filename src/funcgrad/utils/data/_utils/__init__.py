"""``torch.utils.data._utils`` (``collate``), which some programs import directly."""
from . import collate  # noqa: F401
