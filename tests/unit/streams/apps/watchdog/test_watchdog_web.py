"""The watchdog's web server: /healthz as before, /metrics behind the scrape token with each group's
lag per partition as it sampled them."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from streams.apps.watchdog.lag import Offsets
from streams.apps.watchdog.policy import Limits, Watch
from streams.apps.watchdog.service import Health, _serve, observe_lags
from streams.infra.settings import Settings

TOKEN = "watchdog-scrape-token-0123456789"


async def test_metrics_need_the_token_and_show_each_groups_lag_per_partition() -> None:
    settings = Settings(metrics_token=SecretStr(TOKEN))
    watch = Watch(
        group="ivigwatch-rules",
        limits=Limits(interval_seconds=1.0, stall_seconds=5.0, unanswered_seconds=5.0),
    )
    runner = await _serve(Health(watch, [], "ivigwatch-writer", 1.0), settings, "127.0.0.1", 0)
    url = "http://{}:{}".format(*runner.addresses[0][:2])
    observe_lags(
        {"ivigwatch-rules": Offsets({0: 10, 1: 4}, {0: 7, 1: 4}), "ivigwatch-writer": Offsets({0: 10}, {})}
    )
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/healthz") as health:
                assert health.status == 503  # no sample yet: as before
            async with http.get(f"{url}/metrics") as refused:
                assert refused.status == 401
            async with http.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}) as answer:
                assert answer.status == 200
                text = await answer.text()
    finally:
        await runner.cleanup()
    lag = {
        (s.labels["group"], s.labels["partition"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "ivigwatch_group_lag"
    }
    assert lag == {("ivigwatch-rules", "0"): 3, ("ivigwatch-rules", "1"): 0, ("ivigwatch-writer", "0"): 10}
