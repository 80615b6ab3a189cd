"""diffusers checks its dependencies' versions through importlib.metadata (at import time
and in ``is_*_available``): collect the metadata of those that are installed, as the
contributed transformers hook does for transformers."""

from PyInstaller.utils.hooks import copy_metadata, get_module_attribute, is_module_satisfies, logger

datas = copy_metadata("diffusers")
try:
    deps = get_module_attribute("diffusers.dependency_versions_table", "deps")
except Exception:  # noqa: BLE001
    logger.warning("hook-diffusers: could not read diffusers.dependency_versions_table.deps")
    deps = {}
for _name, _req in deps.items():
    if _name == "python" or not is_module_satisfies(_req):
        continue
    try:
        datas += copy_metadata(_name)
    except Exception:  # noqa: BLE001 - not installed
        pass
