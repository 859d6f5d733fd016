"""Every record says where it came from: CPU model and ISA, GEMM path, torch and Python, the exact command line,
and whether the tree was clean (a dirty record is never judged)."""
import torch

from reproduce import results


def test_provenance_names_the_cpu_the_command_and_the_tree():
    p = results.provenance(torch.device("cpu"), 1.0, commit="abc123")
    for key in ("cpu_model", "cpu_vendor", "cpu_isa", "torch_cpu_capability", "cpu_gemm", "torch", "python",
                "threads", "command", "date"):
        assert key in p, key
    assert p["clean"] and isinstance(p["cpu_isa"], list) and p["cpu_model"]
    assert not results.provenance(torch.device("cpu"), 1.0, commit="abc123-dirty")["clean"]
    assert not results.is_clean({"provenance": {"commit": "abc-dirty"}})  # records from before the field existed
    assert results.is_clean({"provenance": {"commit": "abc"}})


def test_the_cli_command_line_is_recorded_with_its_overrides():
    results.set_invocation(["reproduce", "run", "mnist", "--set", "teacher.epochs=5"])
    try:
        assert results.invocation() == "reproduce run mnist --set teacher.epochs=5"
        assert results.provenance(torch.device("cpu"), 0.0, commit="x")["command"] == results.invocation()
    finally:
        results.set_invocation(None)
    call = "reproduce.experiments.get('mnist').run(profile='smoke')"
    assert call in results.invocation(call)  # a notebook's run(...) call, where no command line was set


def test_a_late_look_without_cpu_is_a_stop_and_one_with_cpu_is_work():
    from reproduce.pauses import stopped_seconds
    assert stopped_seconds(1.002, 0.9) == 0.0  # on time
    assert stopped_seconds(4.0, 0.0) == 0.0  # late, but less than LATE_S: a scheduling hiccup, not counted
    assert stopped_seconds(601.0, 0.2) == 599.8  # stopped for ten minutes (CI ran beside it)
    assert stopped_seconds(31.0, 60.0) == 0.0  # a long C call held the GIL while two threads computed
    assert stopped_seconds(31.0, 10.0) == 20.0  # part work, part stopped


def test_a_stopped_process_records_the_seconds_it_was_stopped():
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path
    code = ("import sys, time, torch; from reproduce import results; print('ready', flush=True); "
            "sys.stdin.readline(); print(results.provenance(torch.device('cpu'), 1.0, commit='x')['paused_s'])")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout.readline().strip() == "ready"  # imported: the watcher runs (however slow the import was)
    time.sleep(2)
    proc.send_signal(signal.SIGSTOP)
    time.sleep(8)
    proc.send_signal(signal.SIGCONT)
    time.sleep(2)  # the watcher's next look sees the gap
    proc.stdin.write("\n")
    proc.stdin.flush()
    out, _ = proc.communicate(timeout=120)
    paused = float(out.strip().splitlines()[-1])
    assert 5.0 <= paused <= 9.0, paused  # 8 s stopped, less the watcher's tick and the CPU it used


def test_a_record_s_wall_time_says_how_much_of_it_was_stopped():
    from reproduce.reports.common import wall_phrase
    assert wall_phrase({"wall_s": 5700.0}) == "95.0 min"  # a record from before paused_s
    assert wall_phrase({"wall_s": 5700.0, "paused_s": 10.0}) == "95.0 min"
    assert wall_phrase({"wall_s": 5700.0, "paused_s": 672.0}) == "95.0 min (11.2 of them stopped)"
