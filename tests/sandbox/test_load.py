"""50 live instances with SSH servers at once, two accounts, no cross-talk."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.sandbox.helpers import new_account, ssh_run, wait_until

N = 50


@pytest.mark.load
def test_fifty_concurrent_instances(fresh_sandbox, key):
    box = fresh_sandbox(time_scale=1200.0)
    alice, bob = new_account(box, balance=500.0), new_account(box, balance=500.0)
    owners = [alice if i % 2 == 0 else bob for i in range(N)]

    def create(i):
        r = owners[i].create(101001, label=f"load-{i}", ssh_key=key.public)
        assert r.status_code == 201, r.text
        return r.json()

    with ThreadPoolExecutor(8) as pool:
        insts = list(pool.map(create, range(N)))
    assert len({i["ssh_port"] for i in insts}) == N

    def all_running():
        a = alice.get("/instances").json()["instances"]
        b = bob.get("/instances").json()["instances"]
        return len(a) == len(b) == N // 2 and all(i["actual_status"] == "running" for i in a + b)
    wait_until(all_running, timeout=20, interval=0.1, what="50 instances running")
    wait_until(lambda: sum(1 for e in box.admin.events() if e["event"] == "ssh_ready") >= N, timeout=20,
               interval=0.1, what="50 SSH servers ready")

    def touch(inst):
        rc, out, err = ssh_run(inst["ssh_port"], key, 'echo "$DUMONT_INSTANCE_ID" > me.txt && cat me.txt && pwd')
        assert rc == 0, err
        return inst["id"], out.decode().split()

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(touch, insts))
    assert all(str(iid) == lines[0] for iid, lines in results)
    assert len({lines[1] for _, lines in results}) == N, "every instance has its own workspace"

    def delete(i):
        assert owners[i].delete(f"/instances/{insts[i]['id']}").status_code == 200
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(delete, range(N)))
    assert not box.admin.resources(label_prefix="load-", alive=True)
    assert alice.get("/instances").json()["count"] == bob.get("/instances").json()["count"] == 0
