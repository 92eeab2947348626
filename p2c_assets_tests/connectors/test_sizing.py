"""BulkSize: how many rows the next Dataverse bulk requests of a table carry, from how long the last took."""

from p2c_assets.connectors.sizing import TARGET_SECONDS, BulkSize


def test_the_start_size_until_a_request_answers_then_what_fits_the_target_time():
    size = BulkSize(start=1000, most=5000)
    assert not size.measured and size.rows(pending=100_000, workers=4) == 1000
    size.took(1000, TARGET_SECONDS / 3)                 # 3,000 rows would take the target time
    assert size.measured and size.rows(pending=100_000, workers=4) == 3000
    assert size.rows(pending=8000, workers=4) == 2000   # no more than the rows left over the workers
    assert size.rows(pending=2000, workers=4) == 1000   # never under the start
    size.took(1000, TARGET_SECONDS / 100)               # a fast answer counts by half
    assert size.rows(pending=100_000, workers=4) == 5000  # capped at `most`
    size.took(5000, TARGET_SECONDS)                      # slower at once: 5,000 rows take the target time...
    size.took(5000, 2 * TARGET_SECONDS)                  # ...then twice it
    assert size.rows(pending=100_000, workers=4) == 2500


def test_a_slow_table_keeps_the_start_size_and_a_timeout_halves_the_ceiling():
    size = BulkSize(start=1000, most=5000)
    size.took(1000, 4 * TARGET_SECONDS)
    assert size.rows(pending=100_000, workers=4) == 1000
    size.timed_out(1000)
    assert size.rows(pending=100_000, workers=4) == 500
    size.timed_out(3000)                                 # a larger one later does not raise the ceiling
    assert size.rows(pending=100_000, workers=4) == 500
    size.timed_out(1)
    assert size.rows(pending=100_000, workers=4) == 1
