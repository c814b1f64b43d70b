# nnU-Net v2's resample_data_or_seg (default_resampling.py) restated with numpy/scipy/skimage, for
# tests that compare medport's resampling against it. Test tooling only: never the product path.
import numpy as np
from skimage.transform import resize
from scipy.ndimage import map_coordinates

def resize_seg(seg, shape, order):
    if order == 0:
        return resize(seg.astype(float), shape, order, mode='edge', clip=True, anti_aliasing=False).astype(seg.dtype)
    out = np.zeros(shape, dtype=seg.dtype)
    for c in np.unique(seg):
        m = resize((seg == c).astype(float), shape, order, mode='edge', clip=True, anti_aliasing=False)
        out[m >= 0.5] = c
    return out

def lowres(sp):
    return np.where(max(sp) / np.array(sp) == 1)[0]

def aniso(sp):
    return (np.max(sp) / np.min(sp)) > 3

def nnunet_resample(data, new_shape, cur, new, is_seg, order, order_z=0, force=None):
    if force is not None:
        sep = force
        axis = lowres(cur) if force else None
    elif aniso(cur):
        sep, axis = True, lowres(cur)
    elif aniso(new):
        sep, axis = True, lowres(new)
    else:
        sep, axis = False, None
    if axis is not None and len(axis) != 1:
        sep = False
    fn = resize_seg if is_seg else (lambda a, s, o: resize(a, s, o, mode='edge', anti_aliasing=False))
    dtype = data.dtype
    shape = np.array(data[0].shape)
    new_shape = np.array(new_shape)
    if not np.any(shape != new_shape):
        return data
    data = data.astype(float)
    out = []
    for c in range(data.shape[0]):
        if not sep:
            out.append(fn(data[c], new_shape, order)[None])
            continue
        ax = axis[0]
        s2 = np.delete(new_shape, ax)
        slices = [fn(np.take(data[c], i, axis=ax), s2, order) for i in range(shape[ax])]
        st = np.stack(slices, ax)
        if shape[ax] == new_shape[ax]:
            out.append(st[None])
            continue
        grids = np.mgrid[[slice(0, n) for n in new_shape]].astype(float)
        for a in range(3):
            grids[a] = float(st.shape[a]) / new_shape[a] * (grids[a] + 0.5) - 0.5
        if not is_seg or order_z == 0:
            out.append(map_coordinates(st, grids, order=order_z, mode='nearest')[None])
        else:
            r = np.zeros(new_shape, dtype=dtype)
            for cl in np.sort(np.unique(st)):
                m = np.round(map_coordinates((st == cl).astype(float), grids, order=order_z, mode='nearest'))
                r[m > 0.5] = cl
            out.append(r[None])
    return np.vstack(out).astype(dtype)
