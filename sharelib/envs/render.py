"""Tiny NumPy raster helpers for the environments' ``render`` methods (RGB uint8 images).

No drawing library is needed: cells are filled rectangles, agents and coins are filled discs.
Colours are RGB tuples; the palette follows the house colours of :mod:`sharelib.plotting` loosely
(agent 0 red, agent 1 blue, agent 2 green).
"""

from __future__ import annotations

import numpy as np

AGENT_COLORS = ((214, 39, 40), (31, 119, 180), (44, 160, 44), (148, 103, 189))
BACKGROUND = (245, 245, 245)
GRID_LINE = (200, 200, 200)
WALL = (90, 90, 90)
GOAL = (255, 200, 60)
PREDATOR = (40, 40, 40)


def canvas(rows: int, cols: int, cell: int = 24, color=BACKGROUND, grid: bool = True) -> np.ndarray:
    """A ``(rows * cell, cols * cell, 3)`` uint8 image filled with ``color``, with grid lines."""
    img = np.empty((rows * cell, cols * cell, 3), dtype=np.uint8)
    img[:] = color
    if grid:
        img[::cell, :, :] = GRID_LINE
        img[:, ::cell, :] = GRID_LINE
        img[-1, :, :] = GRID_LINE
        img[:, -1, :] = GRID_LINE
    return img


def fill_cell(img: np.ndarray, r: int, c: int, color, cell: int = 24, margin: int = 1) -> None:
    """Fill grid cell ``(r, c)`` (inside a ``margin``-pixel border) with ``color``."""
    img[r * cell + margin:(r + 1) * cell - margin + 1, c * cell + margin:(c + 1) * cell - margin + 1] = color


def fill_disc(img: np.ndarray, cy: float, cx: float, radius: float, color) -> None:
    """Fill a disc of ``radius`` pixels centred at pixel ``(cy, cx)``."""
    h, w = img.shape[:2]
    y0, y1 = max(int(cy - radius), 0), min(int(cy + radius) + 1, h)
    x0, x1 = max(int(cx - radius), 0), min(int(cx + radius) + 1, w)
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    mask = (yy + 0.5 - cy) ** 2 + (xx + 0.5 - cx) ** 2 <= radius**2
    img[y0:y1, x0:x1][mask] = color


def disc_in_cell(img, r, c, color, cell: int = 24, scale: float = 0.38, dx: float = 0.0) -> None:
    """A disc in grid cell ``(r, c)``; ``scale`` is the radius as a fraction of the cell,
    ``dx`` shifts it horizontally by a fraction of the cell (to show two agents in one cell)."""
    fill_disc(img, (r + 0.5) * cell, (c + 0.5 + dx) * cell, scale * cell, color)


def animate(frames, fps: int = 8, title: str | None = None, scale: float = 4.0):
    """An inline HTML/JavaScript animation of RGB frames (a list of ``(H, W, 3)`` uint8 images), with
    play, pause and step buttons, for a notebook (``IPython.display.HTML(animate(frames))``).

    Uses matplotlib's own ``FuncAnimation.to_jshtml`` (frames embedded as PNG): no video tool needed.
    """
    import matplotlib.pyplot as plt
    from matplotlib import animation

    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise ValueError("frames must contain at least one image")
    h, w = frames[0].shape[:2]
    fig, ax = plt.subplots(figsize=(scale * w / max(h, w), scale * h / max(h, w)))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    im = ax.imshow(frames[0], interpolation="nearest")
    fig.tight_layout()

    def update(k):
        im.set_data(frames[k])
        return (im,)

    anim = animation.FuncAnimation(fig, update, frames=len(frames), interval=1000 / fps, blit=True)
    html = anim.to_jshtml(default_mode="loop")
    plt.close(fig)
    return html
