"""renderd: a render farm that is nothing but a shared folder."""

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
VERSION = "0.1.0"



class BuildWithShare(build_py):
    """Copy systemd/ and docs/ into the built package (render_frontend/share/): `render
    install-service` installs the units and the docs from there when not run from a checkout."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "render_frontend" / "share"
        for name in ("systemd", "docs"):
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, target / name, dirs_exist_ok=True)


setup(
    name="renderd",
    cmdclass={"build_py": BuildWithShare},
    version=VERSION,
    description="A render farm that is nothing but a shared folder",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["renderd", "renderd.*", "render_frontend", "render_frontend.*"]),
    package_data={
        "render_frontend": ["blender_addon/*", "blender_addon/**/*", "web/static/*"],
        "renderd": ["py.typed"],
    },
    # Upper bounds at the next major version: a new major of any of these may change what we use
    # (blender-asset-tracer 2.x is another tool, run inside Blender, without the `trace` module).
    # BAT pulls in requests (+ urllib3, idna, certifi, charset-normalizer) for its Shaman packer,
    # which renderd never imports; pip cannot skip a dependency's dependency (docs/install.md).
    install_requires=[
        "filelock>=3.20.1,<5",
        "watchdog>=7.0,<8",  # InotifyFD (renderd/inotify.py) is public since 7.0
        "click>=8.1.7,<9",
        "blender-asset-tracer>=1.19,<2",
        "zstandard>=0.22,<1",
        "rich>=13.7,<16",
        "jeepney>=0.8,<1",  # render wait --notify: the freedesktop notification over D-Bus (pure Python, no deps)
    ],
    extras_require={
        "test": [
            "pytest>=8.0",
            "hypothesis>=6.100",
            "ruff>=0.5",
            "mypy>=1.10",
            "wheel>=0.40",  # tests/integration/test_wheel_install.py builds a wheel without isolation
            "aiosmtpd>=1.4,<2",  # a real SMTP server on a loopback port for the mail tests (tests/integration/test_mail.py)
            "playwright>=1.40,<2",  # drives Debian's chromium (tests/e2e/test_web_browser.py); no browser download
        ],
        # `render serve` (render_frontend/web/): an ASGI stack and thumbnails; the daemon does without
        "web": [
            "starlette>=0.40,<2",
            "uvicorn>=0.30,<1",
            "pillow>=10.0,<14",
        ],
    },
    entry_points={
        "console_scripts": [
            "renderd=renderd.entry:renderd_main",  # renderd/entry.py: one line if it cannot load
            "render=renderd.entry:render_main",
        ],
    },
    classifiers=[
        "Operating System :: POSIX :: Linux",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Multimedia :: Graphics :: 3D Rendering",
    ],
)
