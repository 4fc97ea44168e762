"""The shared prefix is per thread: a served model's concurrent calls each see their own prompt cache."""


def test_the_shared_prefix_is_per_thread_not_global():
    import threading
    from types import SimpleNamespace

    from synllm_mlops.generation import _shared_prefix as sp

    seen, barrier = {}, threading.Barrier(2)

    def worker(length: int) -> None:
        cache = SimpleNamespace(layers=[SimpleNamespace(keys=length, values=length)])
        with sp.shared_prefix(cache, length):
            barrier.wait()  # both threads are inside their block at once
            seen[length] = sp._ACTIVE.get().length
        seen[f"after{length}"] = sp._ACTIVE.get()

    threads = [threading.Thread(target=worker, args=(n,)) for n in (3, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {3: 3, 5: 5, "after3": None, "after5": None} and sp._ACTIVE.get() is None
