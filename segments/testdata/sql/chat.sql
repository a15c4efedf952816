-- rule: chat("血糖", 30)
-- plan: chat("血糖", 30)

-- chat("血糖", 30)
-- kinds: chats
-- {p0:String} = "血糖"
-- {p1:UInt32} = 30
-- raw person ids, folded into canonical persons by the engine
SELECT toString(groupBitmapState(f.person_id)) FROM (
		SELECT person_id FROM `cdp`.`wecom_messages_visible`
		WHERE person_id != 0
			AND external_userid != ''
			AND `from` = external_userid
			AND positionUTF8(content, {p0:String}) > 0
			AND msgtime >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
	) AS f;

-- counted by the engine on one node: persons with 1 to 255 rows (255: no upper bound)
SELECT toString(groupArrayState(f.person_id)) FROM (
		SELECT person_id FROM `cdp`.`wecom_messages_visible`
		WHERE external_userid != ''
			AND `from` = external_userid
			AND positionUTF8(content, {p0:String}) > 0
			AND msgtime >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
	) AS f
GROUP BY intDiv(rowNumberInAllBlocks(), 4194304);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id FROM `cdp`.`wecom_messages_visible`
		WHERE person_id != 0
			AND external_userid != ''
			AND `from` = external_userid
			AND positionUTF8(content, {p0:String}) > 0
			AND msgtime >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
);

