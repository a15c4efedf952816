-- rule: did_then("search", "video_complete", 1, 30)
-- plan: did_then("search", "video_complete", 1, 30)

-- did_then("search", "video_complete", 1, 30)
-- kinds: events
-- {p0:Array(String)} = [search video_complete]
-- {p1:UInt32} = 30
-- {p2:UInt64} = 86400000
-- {p3:String} = "search"
-- {p4:String} = "video_complete"
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, ts, toString(event) AS e FROM `cdp`.`events`
		WHERE event IN {p0:Array(String)}
			AND person_id != 0
			AND ts >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING windowFunnel({p2:UInt64})(toUInt64(toUnixTimestamp64Milli(f.ts)), f.e = {p3:String}, f.e = {p4:String}) = 2
);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, ts, toString(event) AS e FROM `cdp`.`events`
		WHERE event IN {p0:Array(String)}
			AND person_id != 0
			AND ts >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING windowFunnel({p2:UInt64})(toUInt64(toUnixTimestamp64Milli(f.ts)), f.e = {p3:String}, f.e = {p4:String}) = 2
);

