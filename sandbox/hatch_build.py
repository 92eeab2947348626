"""Hatch build hook: ship the repository's `p2c_sandbox/` package in this distribution.

The package stays beside `p2c_assets/` (tests, benchmarks and docs refer to it there), outside this
project's root, where hatch's file selection does not look. `force-include` in pyproject.toml would
reach it, but hatch also copies forced files into an editable install, where the copy in
site-packages would shadow the working tree; so the files are added here, for wheels and sdists
built from the repository only (`dev-mode-dirs` serves the editable install). An sdist carries the
package at its own root, where hatch finds it by the project's name when it builds the wheel.
"""

from __future__ import annotations

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        if version == "editable" or (root / "p2c_sandbox").is_dir():
            return
        source = root.parent / "p2c_sandbox"
        if not (source / "__init__.py").is_file():
            raise FileNotFoundError(f"the sandbox package is not at {source}")
        build_data["force_include"][str(source)] = "p2c_sandbox"
