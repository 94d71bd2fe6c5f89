-- eddy: bids: Flink SQL (Flink 1.20) written by eddy sql --dialect flink
-- The same rows as eddy run when no record is late. What does not carry over:
--   * late records (event time in a window that already closed) are dropped by Flink, not
--     dead-lettered
--   * a value a coerce stage cannot convert, or a line that is not JSON, becomes NULL columns
--     instead of a dead letter; records without a valid event time are dropped
--   * column types guessed from their use (a coerce stage fixes them): channel STRING (from price >
--     10.5 && (channel startsWith "A" || url endsWith ".com" || url contains "deal") && _partition
--     != 7); url STRING (from price > 10.5 && (channel startsWith "A" || url endsWith ".com" || url
--     contains "deal") && _partition != 7)
--   * first/last are FIRST_VALUE/LAST_VALUE in arrival order; eddy takes the earliest/latest event
--     time (the same when records arrive in event-time order per key)
--   * standard output becomes Flink's print connector (the TaskManagers' stdout, rows as +I[...]
--     not JSON); deploy with --sink-topic to write eddy's JSON rows to a topic

SET 'pipeline.name' = 'eddy: bids';
SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.auto-watermark-interval' = '0';
SET 'table.exec.source.idle-timeout' = '5000 ms';
SET 'parallelism.default' = '4';
SET 'execution.checkpointing.interval' = '10000 ms';

CREATE TEMPORARY TABLE `eddy_source` (
  `dateTime` STRING,
  `auction` BIGINT,
  `price` DOUBLE,
  `channel` STRING,
  `url` STRING,
  `_key` STRING,
  `_topic` STRING METADATA FROM 'topic' VIRTUAL,
  `_partition` INT METADATA FROM 'partition' VIRTUAL,
  `_offset` BIGINT METADATA FROM 'offset' VIRTUAL,
  `_timestamp` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  `__eddy_t` AS COALESCE(CASE WHEN REGEXP(`dateTime`, '^-?[0-9]+$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(`dateTime` AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`dateTime`, '^-?[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(FLOOR(CAST(`dateTime` AS DOUBLE)) AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`dateTime`, '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$') THEN TIMESTAMPADD(MINUTE, CASE WHEN REGEXP(`dateTime`, '[Zz]$') THEN 0 ELSE (CASE WHEN SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 5 FOR 1) = '-' THEN 1 ELSE -1 END) * (CAST(SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 4 FOR 2) AS INT) * 60 + CAST(SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 1 FOR 2) AS INT)) END, TRY_CAST(SUBSTRING(`dateTime` FROM 1 FOR 10) || ' ' || REGEXP_EXTRACT(`dateTime`, '^.{11}([0-9:]{8}(\.[0-9]{1,3})?)', 1) AS TIMESTAMP(3))) END, TIMESTAMP '0001-01-01 00:00:00.000'),
  WATERMARK FOR `__eddy_t` AS `__eddy_t` - INTERVAL '0 00:00:02.001' DAY TO SECOND(3)
) WITH (
  'connector' = 'kafka',
  'topic' = 'bids',
  'properties.bootstrap.servers' = 'kafka:9093',
  'properties.group.id' = 'eddy-bids',
  'scan.startup.mode' = 'timestamp',
  'scan.startup.timestamp-millis' = '1767225600000',
  'scan.bounded.mode' = 'latest-offset',
  'properties.sasl.jaas.config' = '***',
  'properties.sasl.mechanism' = 'SCRAM-SHA-512',
  'properties.security.protocol' = 'SASL_SSL',
  'properties.ssl.truststore.location' = '/etc/kafka/ca.pem',
  'properties.ssl.truststore.type' = 'PEM',
  'key.format' = 'raw',
  'key.fields' = '_key',
  'value.format' = 'json',
  'value.fields-include' = 'EXCEPT_KEY',
  'value.json.ignore-parse-errors' = 'true',
  'scan.watermark.emit.strategy' = 'on-event',
  'scan.watermark.idle-timeout' = '5000 ms'
);

CREATE TEMPORARY VIEW `eddy_stage_1` AS
SELECT * FROM `eddy_source`
WHERE ((((`price` > CAST(10.5 AS DOUBLE)) AND (((POSITION('A' IN `channel`) = 1) OR (RIGHT(`url`, CHAR_LENGTH('.com')) = '.com')) OR (POSITION('deal' IN `url`) > 0))) AND (`_partition` IS DISTINCT FROM 7))) IS TRUE;

CREATE TEMPORARY VIEW `eddy_stage_2` AS
SELECT `auction` AS `auction`, UPPER(COALESCE(`channel`, 'none')) AS `channel`, (`price` * 100) AS `cents`, (CAST(`price` AS DOUBLE) / 3) AS `share`, MOD(`auction`, 10) AS `rem`, POWER(`price`, 2) AS `sq`, ((`_key` || ':') || `_topic`) AS `tag`, ((`channel` IN ('Apple', 'Google')) IS TRUE) AS `keep`, `__eddy_t`, `_topic`, `_partition`, `_offset`, `_timestamp`, `_key`
FROM `eddy_stage_1`;

CREATE TEMPORARY TABLE `eddy_sink_0` (
  `__eddy_key` STRING,
  `auction` BIGINT,
  `channel` STRING,
  `window_start` STRING,
  `window_end` STRING,
  `n` BIGINT,
  `total` DOUBLE,
  `mean` DOUBLE,
  `hi` DOUBLE,
  `keys` BIGINT,
  `first_share` DOUBLE,
  `last_rem` BIGINT
) WITH (
  'connector' = 'kafka',
  'topic' = 'bids.out',
  'properties.bootstrap.servers' = 'kafka:9093',
  'properties.sasl.jaas.config' = '***',
  'properties.sasl.mechanism' = 'SCRAM-SHA-512',
  'properties.security.protocol' = 'SASL_SSL',
  'properties.ssl.truststore.location' = '/etc/kafka/ca.pem',
  'properties.ssl.truststore.type' = 'PEM',
  'key.format' = 'raw',
  'key.fields' = '__eddy_key',
  'value.format' = 'json',
  'value.fields-include' = 'EXCEPT_KEY',
  'sink.delivery-guarantee' = 'at-least-once'
);

CREATE TEMPORARY TABLE `eddy_sink_1` (
  `auction` BIGINT,
  `channel` STRING,
  `window_start` STRING,
  `window_end` STRING,
  `n` BIGINT,
  `total` DOUBLE,
  `mean` DOUBLE,
  `hi` DOUBLE,
  `keys` BIGINT,
  `first_share` DOUBLE,
  `last_rem` BIGINT
) WITH (
  'connector' = 'print'
);

EXECUTE STATEMENT SET
BEGIN
INSERT INTO `eddy_sink_0`
SELECT JSON_ARRAY(`auction`, `channel` NULL ON NULL), `auction`, `channel`, `window_start`, `window_end`, `n`, `total`, `mean`, `hi`, `keys`, `first_share`, `last_rem` FROM (
  SELECT `auction`,
    `channel`,
    DATE_FORMAT(window_start, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_start`,
    DATE_FORMAT(window_end, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_end`,
    COUNT(*) AS `n`,
    SUM(`cents`) AS `total`,
    AVG(CAST(`cents` AS DOUBLE)) AS `mean`,
    MAX(`sq`) AS `hi`,
    COUNT(DISTINCT `tag`) AS `keys`,
    FIRST_VALUE(`share`) AS `first_share`,
    LAST_VALUE(`rem`) AS `last_rem`
  FROM TABLE(
    SESSION(TABLE `eddy_stage_2` PARTITION BY (`auction`, `channel`), DESCRIPTOR(`__eddy_t`), INTERVAL '0 00:00:30.000' DAY TO SECOND(3)))
  WHERE `__eddy_t` > TIMESTAMP '0001-01-01 00:00:00.000'
  GROUP BY `auction`, `channel`, window_start, window_end
) AS `eddy_rows`;
INSERT INTO `eddy_sink_1`
SELECT `auction`, `channel`, `window_start`, `window_end`, `n`, `total`, `mean`, `hi`, `keys`, `first_share`, `last_rem` FROM (
  SELECT `auction`,
    `channel`,
    DATE_FORMAT(window_start, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_start`,
    DATE_FORMAT(window_end, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_end`,
    COUNT(*) AS `n`,
    SUM(`cents`) AS `total`,
    AVG(CAST(`cents` AS DOUBLE)) AS `mean`,
    MAX(`sq`) AS `hi`,
    COUNT(DISTINCT `tag`) AS `keys`,
    FIRST_VALUE(`share`) AS `first_share`,
    LAST_VALUE(`rem`) AS `last_rem`
  FROM TABLE(
    SESSION(TABLE `eddy_stage_2` PARTITION BY (`auction`, `channel`), DESCRIPTOR(`__eddy_t`), INTERVAL '0 00:00:30.000' DAY TO SECOND(3)))
  WHERE `__eddy_t` > TIMESTAMP '0001-01-01 00:00:00.000'
  GROUP BY `auction`, `channel`, window_start, window_end
) AS `eddy_rows`;
END;
