-- rule: days_since_first("video_play") > 30
-- plan: days_since_first("video_play") >= 31

-- days_since_first("video_play") >= 31
-- kinds: events
-- {p0:String} = "video_play"
-- {p1:Int64} = 31
SELECT toString(groupBitmapState(c)) FROM (
	SELECT p.canonical AS c
	FROM (
		SELECT person_id, min(ts) AS v FROM `cdp`.`events`
		WHERE event = {p0:String}
			AND person_id != 0
		GROUP BY person_id
	) AS f
	INNER JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING intDiv({now:Int64} - toUnixTimestamp64Milli(min(f.v)), 86400000) >= {p1:Int64}
);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT p.canonical AS c
	FROM (
		SELECT person_id, min(ts) AS v FROM `cdp`.`events`
		WHERE event = {p0:String}
			AND person_id != 0
			AND person_id IN (SELECT person_id FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)})
		GROUP BY person_id
	) AS f
	INNER JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING intDiv({now:Int64} - toUnixTimestamp64Milli(min(f.v)), 86400000) >= {p1:Int64}
);

