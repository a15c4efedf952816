-- rule: in_list("lst_0123456789ab", "funnel drop-offs")
-- plan: in_list("lst_0123456789ab", "funnel drop-offs")

-- in_list("lst_0123456789ab", "funnel drop-offs")
-- kinds: persons
-- {p0:String} = "lst_0123456789ab"
-- {p1:String} = "funnel drop-offs"
-- raw person ids, folded into canonical persons by the engine
SELECT toString(groupBitmapState(f.person_id)) FROM (
		SELECT person_id FROM (SELECT arrayJoin(bitmapToArray(members)) AS person_id FROM `cdp`.`segment_lists` FINAL WHERE list_id = {p0:String} AND length({p1:String}) >= 0)
		WHERE person_id != 0
	) AS f;

-- counted by the engine on one node: persons with 1 to 255 rows (255: no upper bound)
SELECT toString(groupArrayState(f.person_id)) FROM (
		SELECT person_id FROM (SELECT arrayJoin(bitmapToArray(members)) AS person_id FROM `cdp`.`segment_lists` FINAL WHERE list_id = {p0:String} AND length({p1:String}) >= 0)
	) AS f
GROUP BY intDiv(rowNumberInAllBlocks(), 4194304);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id FROM (SELECT arrayJoin(bitmapToArray(members)) AS person_id FROM `cdp`.`segment_lists` FINAL WHERE list_id = {p0:String} AND length({p1:String}) >= 0)
		WHERE person_id != 0
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
);

