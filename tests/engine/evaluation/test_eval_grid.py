"""The comparison grid (paper Fig. 5 layout): sizes, placement, missing cells, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lipe_engine.evaluation.grid import GridRow, comparison_grid, save_grid


def test_grid_places_each_image_in_its_cell(tmp_path):
    red, blue = Image.new("RGB", (64, 64), (255, 0, 0)), Image.new("RGB", (32, 64), (0, 0, 255))
    rows = [GridRow("a sks dog standing", [red, blue, None]), GridRow("a sks dog lying", [blue, red, red])]
    grid = comparison_grid(rows, ["input", "LIPE", "LEDITS++"], cell=100)
    assert grid.width == 3 * 104 + 4
    arr = np.asarray(grid)
    # a column's cells hold that column's image, scaled to the cell (centre pixels)
    ys = [y for y in range(grid.height) if tuple(arr[y, 4 + 50]) == (255, 0, 0)]
    assert ys and max(ys) - min(ys) + 1 >= 100  # the first row's input fills its 100 px cell
    assert (arr[:, 104 + 4 + 50] == (0, 0, 255)).all(-1).sum() >= 100  # the blue cell, first row
    path = save_grid(rows, ["input", "LIPE", "LEDITS++"], tmp_path / "g" / "grid.png", cell=100)
    assert Image.open(path).size == grid.size and not list(path.parent.glob(".*"))


def test_grid_refuses_ragged_or_empty_rows():
    img = Image.new("RGB", (8, 8))
    with pytest.raises(ValueError, match="every row needs 3"):
        comparison_grid([GridRow("p", [img, img])], ["input", "a", "b"])
    with pytest.raises(ValueError, match="at least one row"):
        comparison_grid([], ["input"])
