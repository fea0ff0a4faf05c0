"""More concurrent work than the KV pool holds (--max-total-token-num 1024, 12 requests of
~205 tokens each): the router queues, pauses and resumes requests, and every request still
completes with exactly the greedy text it gets when it runs alone; afterwards no KV slot is held
by a request."""

import threading

from conftest import wait_kv_free
from helpers import post_json


def greedy(url, i):
    status, out = post_json(url, "/generate",
                            {"inputs": f"Story number {i} begins",
                             "parameters": {"max_new_tokens": 200, "ignore_eos": True, "do_sample": False}},
                            timeout=300)
    assert status == 200, out
    assert out["count_output_tokens"] == 200 and out["finish_reason"] == "length"
    return out["generated_text"][0]


def test_oversubscribed_pool_completes_everything_exactly(make_server):
    srv = make_server(flags=["--max-total-token-num", "1024", "--cpu-threads", "1"])
    n = 12
    concurrent, errors = {}, []

    def worker(i):
        try:
            concurrent[i] = greedy(srv.url, i)
        except BaseException as e:  # reported below, in the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    m = wait_kv_free(srv.url)
    assert m["lightllm_kv_used_tokens"] == 0 and m["lightllm_batch_pause_size"] == 0
    # Only these requests count (the startup /health probe is not a request).
    assert m["lightllm_request_success_total"] == n
    alone = {i: greedy(srv.url, i) for i in range(n)}
    assert concurrent == alone
    assert wait_kv_free(srv.url)["lightllm_kv_used_tokens"] == 0
