"""``torch.utils.data._utils.collate``."""
from ..collate import default_collate, default_collate_err_msg_format, default_convert, np_str_obj_array_pattern  # noqa: F401
