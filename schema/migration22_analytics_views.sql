CREATE OR REPLACE VIEW {bi}.`actions`{on_cluster}
(
    `ts` DateTime64(3, 'UTC') COMMENT 'When it happened',
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `kind` String COMMENT 'event, order or wecom',
    `name` String COMMENT 'The event name; \'order\'; the WeCom change type (add_external_contact, ...) or \'chat\'',
    `channel` String COMMENT 'The event\'s source, the order\'s channel, the contact\'s State tag; \'wecom\' for chats',
    `topic` String COMMENT 'Content topic of an event; empty otherwise',
    `city` String COMMENT 'City of an order; empty otherwise',
    `amount` Float64 COMMENT 'Yuan of an order; 0 otherwise'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT a.ts AS ts, toDate(a.ts, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'event' AS kind, toString(a.event) AS name, toString(a.source) AS channel, toString(a.topic) AS topic, '' AS city, 0. AS amount
FROM {db}.events AS a LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.person_id != 0
UNION ALL
SELECT a.ordered_at AS ts, toDate(a.ordered_at, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'order' AS kind, 'order' AS name, toString(a.channel) AS channel, '' AS topic, toString(a.city) AS city, toFloat64(a.amount) AS amount
FROM {db}.orders AS a FINAL LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.status NOT IN ('refunded', 'cancelled') AND a.person_id != 0
UNION ALL
SELECT a.ts AS ts, toDate(a.ts, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'wecom' AS kind, toString(a.change_type) AS name, toString(a.state) AS channel, '' AS topic, '' AS city, 0. AS amount
FROM {db}.wecom_contact_events AS a LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.person_id != 0
UNION ALL
SELECT a.msgtime AS ts, toDate(a.msgtime, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'wecom' AS kind, 'chat' AS name, 'wecom' AS channel, '' AS topic, '' AS city, 0. AS amount
FROM {db}.wecom_messages_visible AS a LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.person_id != 0 AND a.external_userid != '' AND a.`from` = a.external_userid
COMMENT 'What funnels read: behaviour events, valid orders, WeCom contact changes and the customer\'s own WeCom messages, one row each, attributed to OneIDs.'
;;
CREATE OR REPLACE VIEW {bi}.`customer_cohorts`{on_cluster}
(
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `first_order_at` DateTime64(3, 'UTC') COMMENT 'First valid order',
    `first_date` Date COMMENT 'Day in Asia/Shanghai of the first valid order',
    `cohort_month` Date COMMENT 'First day of the month of first_date',
    `first_channel` String COMMENT 'Channel of the first valid order',
    `first_category` String COMMENT 'Category of the first line of the first valid order'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT f.person_id AS person_id, f.first_order_at AS first_order_at, f.first_date AS first_date, f.cohort_month AS cohort_month, f.first_channel AS first_channel, f.first_category AS first_category
FROM (SELECT c.*, ifNull(l.category, '') AS first_category FROM (SELECT person_id, first_order_at, toDate(first_date) AS first_date, toStartOfMonth(first_date) AS cohort_month, first_channel, first_order, months
FROM (SELECT person_id, min(ordered_at) AS first_order_at, argMin(date, ordered_at) AS first_date, argMin(channel, (ordered_at, order_id)) AS first_channel, argMin(order_id, (ordered_at, order_id)) AS first_order, arraySort(groupUniqArray(toStartOfMonth(date))) AS months
    FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM {db}.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) GROUP BY person_id)) AS c
LEFT JOIN (SELECT channel, order_id, argMin(toString(category), line_no) AS category FROM {db}.order_lines FINAL GROUP BY channel, order_id) AS l ON l.channel = c.first_channel AND l.order_id = c.first_order) AS f)
COMMENT 'One row per customer (OneID with a valid order): the first order, its Beijing month (the cohort), channel and category.'
;;
CREATE OR REPLACE VIEW {bi}.`customer_months`{on_cluster}
(
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `cohort_month` Date COMMENT 'Month of the customer\'s first valid order',
    `month_index` UInt32 COMMENT 'Calendar months since cohort_month (0: the first order\'s month)',
    `orders` UInt64 COMMENT 'Valid orders that month',
    `spend` Float64 COMMENT 'Yuan of those orders',
    `first_channel` String COMMENT 'Channel of the customer\'s first valid order',
    `first_category` String COMMENT 'Category of the first line of the customer\'s first valid order'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT o.person_id AS person_id, any(c.cohort_month) AS cohort_month, toUInt32(dateDiff('month', any(c.cohort_month), toStartOfMonth(o.date))) AS month_index, count() AS orders, sum(o.amount) AS spend, any(c.first_channel) AS first_channel, any(c.first_category) AS first_category
FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM {db}.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) AS o
INNER JOIN (SELECT f.person_id AS person_id, f.first_order_at AS first_order_at, f.first_date AS first_date, f.cohort_month AS cohort_month, f.first_channel AS first_channel, f.first_category AS first_category
FROM (SELECT c.*, ifNull(l.category, '') AS first_category FROM (SELECT person_id, first_order_at, toDate(first_date) AS first_date, toStartOfMonth(first_date) AS cohort_month, first_channel, first_order, months
FROM (SELECT person_id, min(ordered_at) AS first_order_at, argMin(date, ordered_at) AS first_date, argMin(channel, (ordered_at, order_id)) AS first_channel, argMin(order_id, (ordered_at, order_id)) AS first_order, arraySort(groupUniqArray(toStartOfMonth(date))) AS months
    FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM {db}.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) GROUP BY person_id)) AS c
LEFT JOIN (SELECT channel, order_id, argMin(toString(category), line_no) AS category FROM {db}.order_lines FINAL GROUP BY channel, order_id) AS l ON l.channel = c.first_channel AND l.order_id = c.first_order) AS f) AS c ON c.person_id = o.person_id
GROUP BY o.person_id, toStartOfMonth(o.date))
COMMENT 'One row per customer and calendar month with a valid order: months since the cohort month, orders and spend. Retention and LTV curves read it.'
;;
CREATE OR REPLACE VIEW {bi}.`repurchases`{on_cluster}
(
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `kind` String COMMENT 'rice or oil',
    `first_date` Date COMMENT 'First Beijing day with a valid order of this kind',
    `second_date` Nullable(Date) COMMENT 'The next such day; NULL when none yet',
    `days_to_repurchase` Nullable(UInt32) COMMENT 'second_date - first_date; NULL when none yet',
    `gaps` Array(UInt32) COMMENT 'Days between consecutive purchase days of this kind',
    `first_channel` String COMMENT 'Channel of the customer\'s first valid order'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT k.person_id AS person_id, k.kind AS kind, k.days[1] AS first_date, if(length(k.days) > 1, CAST(k.days[2], 'Nullable(Date)'), NULL) AS second_date, if(length(k.days) > 1, toNullable(toUInt32(dateDiff('day', k.days[1], k.days[2]))), NULL) AS days_to_repurchase, arrayMap(g -> toUInt32(g), arrayPopFront(arrayDifference(arrayMap(d -> toInt32(d), k.days)))) AS gaps, c.first_channel AS first_channel
FROM (SELECT o.person_id AS person_id, multiIf(positionUTF8(l.category, '米') > 0, 'rice', positionUTF8(l.category, '油') > 0, 'oil', '') AS kind, arraySort(groupUniqArray(o.date)) AS days
    FROM {db}.order_lines AS l FINAL
    INNER JOIN (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM {db}.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) AS o ON o.channel = l.channel AND o.order_id = l.order_id
    WHERE kind != '' GROUP BY person_id, kind) AS k
INNER JOIN (SELECT f.person_id AS person_id, f.first_order_at AS first_order_at, f.first_date AS first_date, f.cohort_month AS cohort_month, f.first_channel AS first_channel
FROM (SELECT person_id, first_order_at, toDate(first_date) AS first_date, toStartOfMonth(first_date) AS cohort_month, first_channel, first_order, months
FROM (SELECT person_id, min(ordered_at) AS first_order_at, argMin(date, ordered_at) AS first_date, argMin(channel, (ordered_at, order_id)) AS first_channel, argMin(order_id, (ordered_at, order_id)) AS first_order, arraySort(groupUniqArray(toStartOfMonth(date))) AS months
    FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM {db}.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) GROUP BY person_id)) AS f) AS c ON c.person_id = k.person_id)
COMMENT 'One row per customer and purchase kind (rice: categories naming 米, oil: naming 油): the first purchase day and the days until the next.'
;;
CREATE OR REPLACE VIEW {bi}.`lifecycle`{on_cluster}
(
    `audience` String COMMENT 'buyers or engaged',
    `period_unit` String COMMENT 'week or month',
    `period` Date COMMENT 'First day of the week (Monday) or month, Beijing',
    `state` String COMMENT 'new, returning, resurrecting or dormant',
    `persons` UInt64 COMMENT 'Persons in that state'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT 'buyers' AS audience, 'week' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT person_id, toMonday(toDate(ordered_at, 'Asia/Shanghai')) AS period FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM {db}.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0)) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = x - 7, 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = x + 7, (toDate(0), ''), (x + 7, 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
UNION ALL
SELECT 'buyers' AS audience, 'month' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT person_id, toStartOfMonth(toDate(ordered_at, 'Asia/Shanghai')) AS period FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM {db}.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0)) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = addMonths(x, -1), 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = addMonths(x, 1), (toDate(0), ''), (addMonths(x, 1), 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
UNION ALL
SELECT 'engaged' AS audience, 'week' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT ifNull(nullIf(p_e.canonical, 0), e.person_id) AS person_id, toMonday(toDate(e.ts, 'Asia/Shanghai')) AS period FROM {db}.events AS e LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_e ON p_e.person_id = e.person_id WHERE e.person_id != 0
    UNION DISTINCT SELECT ifNull(nullIf(p_m.canonical, 0), m.person_id), toMonday(toDate(m.msgtime, 'Asia/Shanghai')) FROM {db}.wecom_messages_visible AS m LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_m ON p_m.person_id = m.person_id WHERE m.person_id != 0 AND m.external_userid != '' AND m.`from` = m.external_userid) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = x - 7, 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = x + 7, (toDate(0), ''), (x + 7, 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
UNION ALL
SELECT 'engaged' AS audience, 'month' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT ifNull(nullIf(p_e.canonical, 0), e.person_id) AS person_id, toStartOfMonth(toDate(e.ts, 'Asia/Shanghai')) AS period FROM {db}.events AS e LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_e ON p_e.person_id = e.person_id WHERE e.person_id != 0
    UNION DISTINCT SELECT ifNull(nullIf(p_m.canonical, 0), m.person_id), toStartOfMonth(toDate(m.msgtime, 'Asia/Shanghai')) FROM {db}.wecom_messages_visible AS m LEFT JOIN (SELECT person_id, canonical FROM {db}.persons FINAL WHERE person_id != canonical) AS p_m ON p_m.person_id = m.person_id WHERE m.person_id != 0 AND m.external_userid != '' AND m.`from` = m.external_userid) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = addMonths(x, -1), 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = addMonths(x, 1), (toDate(0), ''), (addMonths(x, 1), 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
COMMENT 'Customers per period by lifecycle state: new, returning, resurrecting and dormant, per week (Monday) or month, for buyers (valid orders) and engaged customers (behaviour or their own WeCom messages).'