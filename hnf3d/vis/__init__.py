"""Pictures of shapes: `render` (views in the Occupancy Networks camera convention, for the image data sets; the
one `look_at` camera helper) and `preview` (a shaded picture of a reconstructed mesh, for users)."""
from .preview import render_preview, save_preview
from .render import look_at, onet_cameras, render_view, render_views

__all__ = ["look_at", "onet_cameras", "render_preview", "render_view", "render_views", "save_preview"]
