from typing import Optional

STATE_NAMES: tuple[str, ...]
EVENT_NAMES: tuple[str, ...]
VERDICT_NAMES: tuple[str, ...]
REASON_NAMES: tuple[str, ...]

CT_NONE: int
CT_SYN_SENT: int
CT_SYN_RECV: int
CT_ESTABLISHED: int
CT_FIN_WAIT: int
CT_CLOSE_WAIT: int
CT_LAST_ACK: int
CT_TIME_WAIT: int
CT_CLOSE: int
CT_SYN_SENT2: int
CT_NUM_STATES: int
CT_INVALID: int
CT_IGNORE: int
EV_SYN: int
EV_SYNACK: int
EV_FIN: int
EV_ACK: int
EV_RST: int
EV_NONE: int
EV_COUNT: int
DIR_ORIGINAL: int
DIR_REPLY: int
V_ACCEPT: int
V_NEW: int
V_IGNORE: int
V_INVALID: int
V_UNTRACKED: int
R_COUNT: int

def next_state(direction: int, event: int, state: int) -> int: ...

class TcpTracker:
    last_action: str
    def __init__(self, loose: bool = True) -> None: ...
    def segment(self, direction: int, flags: int, seq: int = 0, ack: int = 0,
                window: int = 65535, payload: int = 0, wscale: Optional[int] = None,
                sack_perm: bool = False, sack: Optional[int] = None) -> tuple[str, str]: ...
    @property
    def state(self) -> str: ...
    @property
    def assured(self) -> bool: ...
    @property
    def seen_reply(self) -> bool: ...
    def window(self, direction: int) -> tuple[int, int, int, int]: ...
