-- rule: did("search", 7, {"keyword": "低GI大米"}) >= 1
-- plan: did("search", 7, {keyword: "低GI大米"}) >= 1

-- did("search", 7, {keyword: "低GI大米"}) >= 1
-- kinds: events
-- {p0:String} = "search"
-- {p1:String} = "低GI大米"
-- {p2:UInt32} = 7
-- raw person ids, folded into canonical persons by the engine
SELECT toString(bitmapAndnot(groupBitmapMergeState(b), bitmapBuild([toUInt32(0)]))) FROM (
	SELECT groupBitmapState(person_id) AS b FROM `cdp`.`events`
	WHERE event = {p0:String}
		AND keyword = {p1:String}
		AND toDate(ts) > toDate(fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p2:UInt32}))
	UNION ALL
	SELECT groupBitmapState(person_id) AS b FROM `cdp`.`events`
	WHERE event = {p0:String}
		AND keyword = {p1:String}
		AND toDate(ts) = toDate(fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p2:UInt32}))
		AND ts >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p2:UInt32})
);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id FROM `cdp`.`events`
		WHERE event = {p0:String}
			AND person_id != 0
			AND keyword = {p1:String}
			AND ts >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p2:UInt32})
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
);

