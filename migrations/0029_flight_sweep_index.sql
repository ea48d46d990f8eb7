-- Every process's sweep pages, in id order, through the buys a flight move is due for
-- (listBuysDueOnFlight in src/modules/media-buys/flight-status.ts). Without this index the page
-- was read through the primary key, past every buy ever made: 200,000 buys with 6,000 still on the
-- clock took 35-44 ms a sweep, 1.7-2.9 ms with it (BENCHMARKS.md). It holds only the buys the clock
-- can still move: the `from` statuses of FLIGHT_MOVES there, which the query names as well.
CREATE INDEX media_buy_on_the_clock ON media_buy (id) WHERE status IN ('pending_start', 'active', 'paused');
