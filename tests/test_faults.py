"""The one out-of-memory rule (core/faults.py), used by the CLI and the GUI's job errors."""

from rfm_studio.core.faults import OOM_ADVICE, advice_for, is_out_of_memory


class OutOfMemoryError(RuntimeError):  # named like torch.cuda.OutOfMemoryError
    pass


def test_out_of_memory_is_recognised_by_class_and_by_message():
    assert is_out_of_memory(OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(type("BigAlloc", (MemoryError,), {})())  # a subclass, whatever its name
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory"))
    assert is_out_of_memory(RuntimeError("MPS backend: not enough memory"))
    assert is_out_of_memory(ValueError("allocator: Out of memory while padding"))  # any class naming it
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("not enough memory"))  # only RuntimeErrors say it this way
    assert advice_for(MemoryError()) == OOM_ADVICE and advice_for(RuntimeError("shape mismatch")) is None


def test_the_gui_describes_what_the_rule_calls_out_of_memory():
    from rfm_studio.gui.jobs import describe

    for exc in (RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory"), MemoryError(),
                OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")):
        err = describe(exc)
        assert err.user and err.message.startswith("Out of memory"), exc
    err = describe(RuntimeError("shape mismatch"))
    assert not err.user and err.message == "Unexpected error (RuntimeError): shape mismatch"
