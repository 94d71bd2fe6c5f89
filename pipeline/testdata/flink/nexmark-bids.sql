-- eddy: bids-per-auction: Flink SQL (Flink 1.20) written by eddy sql --dialect flink
-- The same rows as eddy run when no record is late. What does not carry over:
--   * late records (event time in a window that already closed) are dropped by Flink, not
--     dead-lettered
--   * the file source is read by Flink's filesystem connector on the TaskManagers (the path must be
--     readable there); deploy with --topic to read a Kafka topic instead
--   * a value a coerce stage cannot convert, or a line that is not JSON, becomes NULL columns
--     instead of a dead letter; records without a valid event time are dropped
--   * column types guessed from their use (a coerce stage fixes them): price DOUBLE (from
--     max(price))
--   * standard output becomes Flink's print connector (the TaskManagers' stdout, rows as +I[...]
--     not JSON); deploy with --sink-topic to write eddy's JSON rows to a topic

SET 'pipeline.name' = 'eddy: bids-per-auction';
SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.auto-watermark-interval' = '0';
SET 'table.exec.source.idle-timeout' = '30000 ms';

CREATE TEMPORARY TABLE `eddy_source` (
  `dateTime` STRING,
  `auction` STRING,
  `price` DOUBLE,
  `__eddy_t` AS COALESCE(CASE WHEN REGEXP(`dateTime`, '^-?[0-9]+$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(`dateTime` AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`dateTime`, '^-?[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(FLOOR(CAST(`dateTime` AS DOUBLE)) AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`dateTime`, '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$') THEN TIMESTAMPADD(MINUTE, CASE WHEN REGEXP(`dateTime`, '[Zz]$') THEN 0 ELSE (CASE WHEN SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 5 FOR 1) = '-' THEN 1 ELSE -1 END) * (CAST(SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 4 FOR 2) AS INT) * 60 + CAST(SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 1 FOR 2) AS INT)) END, TRY_CAST(SUBSTRING(`dateTime` FROM 1 FOR 10) || ' ' || REGEXP_EXTRACT(`dateTime`, '^.{11}([0-9:]{8}(\.[0-9]{1,3})?)', 1) AS TIMESTAMP(3))) END, TIMESTAMP '0001-01-01 00:00:00.000'),
  WATERMARK FOR `__eddy_t` AS `__eddy_t` - INTERVAL '0 00:00:00.001' DAY TO SECOND(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '<repo>/examples/bids.jsonl',
  'format' = 'json',
  'json.ignore-parse-errors' = 'true'
);

CREATE TEMPORARY TABLE `eddy_sink_0` (
  `auction` STRING,
  `window_start` STRING,
  `window_end` STRING,
  `n` BIGINT,
  `max_price` DOUBLE
) WITH (
  'connector' = 'print'
);

INSERT INTO `eddy_sink_0`
SELECT CAST(`auction` AS STRING) AS `auction`, `window_start`, `window_end`, `n`, `max_price` FROM (
  SELECT `auction`,
    DATE_FORMAT(window_start, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_start`,
    DATE_FORMAT(window_end, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_end`,
    COUNT(*) AS `n`,
    MAX(`price`) AS `max_price`
  FROM TABLE(
    TUMBLE(TABLE `eddy_source`, DESCRIPTOR(`__eddy_t`), INTERVAL '0 00:00:10.000' DAY TO SECOND(3)))
  WHERE `__eddy_t` > TIMESTAMP '0001-01-01 00:00:00.000'
  GROUP BY `auction`, window_start, window_end
) AS `eddy_rows`;
