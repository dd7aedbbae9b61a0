import pytest


def pytest_report_header(config):
    from support import CAPTURES, is_root
    return [f"captures: {CAPTURES} ({'present' if CAPTURES.is_dir() else 'ABSENT'}); root: {is_root()}"]
