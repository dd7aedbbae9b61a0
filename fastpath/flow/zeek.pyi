CONN_STATE_NAMES: tuple[str, ...]
ENDPOINT_STATE_NAMES: tuple[str, ...]

CS_S0: int
CS_S1: int
CS_SF: int
CS_REJ: int
CS_S2: int
CS_S3: int
CS_RSTO: int
CS_RSTR: int
CS_RSTOS0: int
CS_RSTRH: int
CS_SH: int
CS_SHR: int
CS_OTH: int
