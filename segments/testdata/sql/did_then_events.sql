-- rule: did_then("search", "video_complete", 1)
-- plan: did_then("search", "video_complete", 1)

-- did_then("search", "video_complete", 1)
-- kinds: events
-- {p0:Array(String)} = [search video_complete]
-- {p1:UInt64} = 86400000
-- {p2:String} = "search"
-- {p3:String} = "video_complete"
SELECT toString(groupBitmapState(c)) FROM (
	SELECT p.canonical AS c
	FROM (
		SELECT person_id, ts, toString(event) AS e FROM `cdp`.`events`
		WHERE event IN {p0:Array(String)}
			AND person_id != 0
	) AS f
	INNER JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING windowFunnel({p1:UInt64})(toUInt64(toUnixTimestamp64Milli(f.ts)), f.e = {p2:String}, f.e = {p3:String}) = 2
);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT p.canonical AS c
	FROM (
		SELECT person_id, ts, toString(event) AS e FROM `cdp`.`events`
		WHERE event IN {p0:Array(String)}
			AND person_id != 0
			AND person_id IN (SELECT person_id FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)})
	) AS f
	INNER JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING windowFunnel({p1:UInt64})(toUInt64(toUnixTimestamp64Milli(f.ts)), f.e = {p2:String}, f.e = {p3:String}) = 2
);

