"""The process's resident memory on Linux (``/proc/self``): now, at its peak, and the peak
mark reset; elsewhere the functions say they cannot (None, False)."""

from __future__ import annotations


def status_mb(key):
    """``/proc/self/status``'s ``key`` (``"VmRSS"``, ``"VmHWM"``) in MiB, or None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def reset_peak():
    """Start the process's peak-RSS mark afresh (Linux: ``clear_refs`` 5); False if not."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False
