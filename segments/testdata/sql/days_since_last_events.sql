-- rule: days_since_last("video_play") in 3..7
-- plan: days_since_last("video_play") in 3..7

-- days_since_last("video_play") in 3..7
-- kinds: events
-- {p0:String} = "video_play"
-- {p1:UInt32} = 8
-- {p2:Int64} = 3
-- {p3:Int64} = 7
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, max(ts) AS v FROM `cdp`.`events`
		WHERE event = {p0:String}
			AND person_id != 0
			AND ts >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING intDiv({now:Int64} - toUnixTimestamp64Milli(max(f.v)), 86400000) >= {p2:Int64} AND intDiv({now:Int64} - toUnixTimestamp64Milli(max(f.v)), 86400000) <= {p3:Int64}
);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, max(ts) AS v FROM `cdp`.`events`
		WHERE event = {p0:String}
			AND person_id != 0
			AND ts >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING intDiv({now:Int64} - toUnixTimestamp64Milli(max(f.v)), 86400000) >= {p2:Int64} AND intDiv({now:Int64} - toUnixTimestamp64Milli(max(f.v)), 86400000) <= {p3:Int64}
);

