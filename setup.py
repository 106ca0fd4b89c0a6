"""Packaging that pyproject.toml cannot declare: the shipped ``resources/`` folder inside the wheel.

The project's metadata is in pyproject.toml. Here: the code packages, and the top-level
``resources/`` folder (toy model, icons; it stays at the top of a checkout) mapped into the wheel
as ``lipe_engine/_resources`` with all its files, where ``lipe_engine.resources.resource_path``
finds it. Its sub-folders are listed as packages so setuptools copies them without warnings.
"""

from setuptools import find_namespace_packages, setup

CODE = find_namespace_packages(include=["lipe_engine*", "lipe_desktop*"], exclude=["*.__pycache__"])
SHIPPED = "lipe_engine._resources"
SHIPPED_PACKAGES = [SHIPPED] + [
    f"{SHIPPED}.{name}" for name in find_namespace_packages("resources", exclude=["*__pycache__*"])
]
CODE_DATA = ["*.json", "*.txt", "*.qss", "*.svg", "*.png", "*.safetensors"]

setup(
    packages=CODE + SHIPPED_PACKAGES,
    package_dir={SHIPPED: "resources"},
    package_data={"": CODE_DATA, **{name: ["*"] for name in SHIPPED_PACKAGES}},
)
