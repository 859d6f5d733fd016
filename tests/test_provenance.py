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
