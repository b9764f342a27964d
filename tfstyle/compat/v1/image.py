"""``tf.image`` (TF1 names): resizing."""

# ruff: noqa: F401

from tfstyle.ops.image_ops import (
    ResizeMethod,
    resize_area,
    resize_bicubic,
    resize_bilinear,
    resize_images,
    resize_nearest_neighbor,
)

# TF1 exports resize_images as tf.image.resize too.
resize = resize_images
