"""Array stores read and written by block: .npy files and zarr."""
