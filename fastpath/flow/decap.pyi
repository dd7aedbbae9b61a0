from typing import Any

import numpy as np
import numpy.typing as npt

def scan(buffer: Any, base: int, records: np.ndarray
         ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint16], int]: ...
