-- rule: did("video_complete", 30, {"topic": "控糖", "completion": 0.9, "video_id": ["v1", "v2"]}) >= 2
-- plan: did("video_complete", 30, {topic: "控糖", completion: 0.9, video_id: ["v1", "v2"]}) >= 2

-- did("video_complete", 30, {topic: "控糖", completion: 0.9, video_id: ["v1", "v2"]}) >= 2
-- kinds: events
-- {p0:String} = "video_complete"
-- {p1:Float32} = 0.9
-- {p2:String} = "控糖"
-- {p3:String} = "video_id"
-- {p4:Array(String)} = [v1 v2]
-- {p5:UInt32} = 30
-- {p6:Int64} = 2
WITH (SELECT (groupArray(person_id), groupArray(canonical)) FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical)) AS merged
SELECT toString(groupBitmapState(c)) FROM (
	SELECT transform(f.person_id, merged.1, merged.2, f.person_id) AS c
	FROM (
		SELECT person_id FROM `cdp`.`events`
		WHERE event = {p0:String}
			AND person_id != 0
			AND completion >= {p1:Float32}
			AND topic = {p2:String}
			AND JSONExtractString(properties, {p3:String}) IN {p4:Array(String)}
			AND ts >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p5:UInt32})
	) AS f
	GROUP BY c HAVING count() >= {p6:Int64}
);

-- counted by the engine on one node: persons with 2 to 255 rows (255: no upper bound)
SELECT toString(groupArrayState(f.person_id)) FROM (
		SELECT person_id FROM `cdp`.`events`
		WHERE event = {p0:String}
			AND completion >= {p1:Float32}
			AND topic = {p2:String}
			AND JSONExtractString(properties, {p3:String}) IN {p4:Array(String)}
			AND ts >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p5:UInt32})
	) AS f
GROUP BY intDiv(rowNumberInAllBlocks(), 4194304);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, count() AS v FROM `cdp`.`events`
		WHERE event = {p0:String}
			AND person_id != 0
			AND completion >= {p1:Float32}
			AND topic = {p2:String}
			AND JSONExtractString(properties, {p3:String}) IN {p4:Array(String)}
			AND ts >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p5:UInt32})
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING sum(f.v) >= {p6:Int64}
);

