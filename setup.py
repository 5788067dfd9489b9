"""renderd: a render farm that is nothing but a shared folder."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
VERSION = "0.1.0"

setup(
    name="renderd",
    version=VERSION,
    description="A render farm that is nothing but a shared folder",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["renderd", "renderd.*", "render_frontend", "render_frontend.*"]),
    package_data={"render_frontend": ["blender_addon/*", "blender_addon/**/*"], "renderd": ["py.typed"]},
    install_requires=[
        "filelock>=3.20.1",
        "watchdog>=4.0",
        "click>=8.1.7",
        "blender-asset-tracer>=1.19",
        "zstandard>=0.22",
        "rich>=13.7",
    ],
    extras_require={
        "test": [
            "pytest>=8.0",
            "hypothesis>=6.100",
            "ruff>=0.5",
            "mypy>=1.10",
        ],
    },
    entry_points={
        "console_scripts": [
            "renderd=renderd.cli:main",
            "render=render_frontend.cli:main",
        ],
    },
    classifiers=[
        "Operating System :: POSIX :: Linux",
        "Programming Language :: Python :: 3.11",
        "Topic :: Multimedia :: Graphics :: 3D Rendering",
    ],
)
