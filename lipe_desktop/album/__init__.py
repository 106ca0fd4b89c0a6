"""The album: folder tree, virtualized thumbnail grid, photo viewer and search."""
