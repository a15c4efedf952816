-- rule: never("video_play", 90)
-- plan: NOT did("video_play", 90) >= 1

-- did("video_play", 90) >= 1
-- kinds: events
-- {p0:String} = "video_play"
-- {p1:UInt32} = 90
-- raw person ids, folded into canonical persons by the engine
SELECT toString(bitmapAndnot(groupBitmapMergeState(b), bitmapBuild([toUInt32(0)]))) FROM (
	SELECT groupBitmapState(person_id) AS b FROM `cdp`.`events`
	WHERE event = {p0:String}
		AND toDate(ts) > toDate(fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32}))
	UNION ALL
	SELECT groupBitmapState(person_id) AS b FROM `cdp`.`events`
	WHERE event = {p0:String}
		AND toDate(ts) = toDate(fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32}))
		AND ts >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id FROM `cdp`.`events`
		WHERE event = {p0:String}
			AND person_id != 0
			AND ts >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
);

