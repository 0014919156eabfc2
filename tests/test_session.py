"""runtime/session.py: the sessions the runtime makes, on a graph built here."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from runtime.session import STOP_SPINNING, SessionConfig, make_session

WEIGHT = np.arange(12, dtype=np.float32).reshape(3, 4) / 10


@pytest.fixture
def graph(tmp_path):
    """y = x @ WEIGHT, saved as an ONNX file."""
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])],
                          [numpy_helper.from_array(WEIGHT, "w")])
    path = tmp_path / "matmul.onnx"
    path.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
                     .SerializeToString())
    return path


@pytest.mark.parametrize("threads", [0, 1, 2])
def test_sessions_stop_spinning_after_a_run_and_use_the_threads_asked_for(graph, threads):
    """Spinning workers of one session would take a core from the next one to run (the
    module docstring has the measurement); the thread count is the caller's."""
    s = make_session(graph, SessionConfig(intra_op_threads=threads))
    options = s.get_session_options()
    assert options.get_session_config_entry(STOP_SPINNING) == "1"
    assert options.intra_op_num_threads == threads
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(s.run(None, {"x": x})[0],
                               [[3.2, 3.8, 4.4, 5.0], [0.8, 0.9, 1.0, 1.1]], rtol=1e-6)


def test_cuda_without_a_cuda_provider_runs_on_the_cpu_with_a_note(graph, caplog):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    s = make_session(graph, SessionConfig(device="cuda"))
    assert s.get_providers() == ["CPUExecutionProvider"]
    assert "CUDA was requested but this onnxruntime has no CUDA provider" in caplog.text
