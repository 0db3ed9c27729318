"""dcor-stream from Python: exact distance correlation (dCor,
bias-corrected dCor with its t-test, partial dCor, jackknife SEs,
permutation tests, debiased CKA) of numpy arrays, torch tensors, data
frames or files, computed out of core by the dcor-stream binary that the
wheel carries (a subprocess: safe in fork()ed workers).

    import dcor_stream
    r = dcor_stream.dcor(x, y)                # r.bcdcor, r.p_value, r.dcor
    m = dcor_stream.matrix({"l1": a, "l2": b}, {"label": y}, ci=True)
    m.bcdcor, m.frame(), m.compare(("l1", "label"), ("l2", "label")), m.plot()

Models in the loop: dcor_stream.torch (capture, compare).
"""

from ._api import dcor, matrix, merge
from ._binary import binary
from ._errors import DataError, DcorStreamWarning, Error, InternalError, UsageError
from ._results import Contrast, MatrixResult, Result

__version__ = "0.1.0"
__all__ = ["dcor", "matrix", "merge", "binary", "Result", "MatrixResult", "Contrast", "Error", "DataError",
           "UsageError", "InternalError", "DcorStreamWarning"]
