"""Training and benchmark data.

- ShapeNetDataset: the Occupancy Networks layout, read exactly (points.npz, pointcloud.npz, img_choy2016);
- DatasetUnion: several such roots read as one (the config's data.extra_paths);
- MeshFolderDataset: any folder of meshes, query points and labels drawn on the fly (no preprocessing);
- build (tools/build_dataset.py): any folder of meshes -> the ONet layout, with renders and cameras;
- procedural (tools/make_shapes.py): ShapeNet-like categories assembled from parametric parts, and analytic SDF
  shape families (blob, tube, plate, mechanical, csg) that build_sdf writes straight into the ONet layout
  (tools/make_shapes.py --onet).
Items are dicts of tensors plus category, model id, loc and scale; `collate` batches them.
"""
from .mesh_folder import MeshFolderDataset
from .shapenet import DatasetUnion, ShapeNetDataset
from .transforms import collate

__all__ = ["DatasetUnion", "MeshFolderDataset", "ShapeNetDataset", "collate"]
