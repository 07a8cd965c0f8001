"""The watch cache on a cluster without the KEDA CRD: nothing blocks, nothing floods the log."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from gitops_agent.agent.watchcache import WatchCache
from gitops_agent.kube.client import connect
from gitops_agent.localcluster import LocalCluster, Mode


def test_a_watched_kind_whose_crd_is_missing_is_skipped_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with LocalCluster(tmp_path / "cluster", mode=Mode.API) as cluster:
        cluster.kubectl("delete", "crd", "scaledobjects.keda.sh")
        kube = connect(str(cluster.kubeconfig))
        watch = WatchCache(kube, on_drift=lambda unit: None, retry_seconds=0.1)
        caplog.set_level(logging.INFO, logger="gitops_agent")
        try:
            watch.ensure(["default"])
            assert watch.wait_synced(15), "a stream of an unserved kind kept the cache from being synced"
            time.sleep(1)  # ten retry periods of a failing stream
        finally:
            watch.stop()
    about_keda = [r for r in caplog.records if "ScaledObject" in r.getMessage()]
    assert len(about_keda) == 1, [r.getMessage() for r in about_keda]
    assert about_keda[0].levelno == logging.INFO
    assert "not watching ScaledObject in default" in about_keda[0].getMessage()
