"""The asset pipeline: compile, bundle, minify, cache and live-reload browser assets.

The server uses ``AssetPipeline`` (development serving, production packs);
``python -m ss assets`` uses ``pack``; ``ss new`` uses
``vendor_libs.install_client_libs``.
"""
from .errors import AssetError, CompileError, NodeWorkerError, PackError
from .pipeline import Asset, AssetPipeline

__all__ = ["Asset", "AssetPipeline", "AssetError", "CompileError", "NodeWorkerError", "PackError"]
