// Chinese (default) and English strings, and time formatting in the city's time zone.
const STRINGS = {
  brand: ["城管智能巡查", "Citywatch"],
  "nav.queue": ["告警", "Alerts"], "nav.cases": ["案件", "Cases"], "nav.cameras": ["摄像头", "Cameras"],
  "nav.stats": ["统计", "Statistics"], signout: ["退出", "Sign out"],
  "signin.title": ["城管智能巡查 · 指挥中心", "Citywatch · Command center"],
  "signin.token": ["访问令牌", "Access token"], "signin.submit": ["登录", "Sign in"],
  "signin.hint": ["令牌由管理员用 citywatch users add 生成", "An admin creates tokens with citywatch users add"],
  "signin.bad": ["令牌无效", "Invalid token"],
  "signin.anonymous": ["以只读身份进入", "Continue read-only"],
  "signin.username": ["用户名", "Username"], "signin.password": ["密码", "Password"],
  "signin.useToken": ["使用访问令牌登录", "Sign in with an access token"],
  "signin.wrong": ["用户名或密码错误", "Wrong username or password"],
  "signin.locked": ["失败次数过多，请几分钟后再试", "Too many failed sign-ins; try again in a few minutes"],
  "role.viewer": ["只读", "viewer"], "role.operator": ["值班员", "operator"], "role.admin": ["管理员", "admin"],
  "mode.normal": ["常态模式", "Normal mode"], "mode.flood": ["汛期模式", "Flood mode"],
  "mode.switch": ["切换到", "Switch to"], "mode.confirm": ["确认切换运行模式？", "Switch the operating mode?"],
  "mode.by": ["切换人", "Switched by"], "mode.switched": ["已切换到", "Switched to"],
  "live.on": ["实时连接", "Live"], "live.off": ["连接中断，重连中…", "Disconnected, reconnecting…"],
  "type.illegal_parking": ["违章停车", "Illegal parking"], "type.litter": ["乱扔垃圾", "Litter"],
  "type.waterlogging": ["道路积水", "Waterlogging"], "type.street_vending": ["占道经营", "Street vending"],
  "f.type": ["类型", "Type"], "f.camera": ["摄像头", "Camera"], "f.district": ["区", "District"],
  "f.street": ["街道", "Street"], "f.status": ["状态", "Status"], "f.all": ["全部", "All"],
  "f.group": ["分组", "Group"],
  "review.pending": ["待审核", "Pending"], "review.confirmed": ["已确认", "Confirmed"],
  "review.rejected": ["误报", "Rejected"], "review.skipped": ["已跳过", "Skipped"],
  "q.empty": ["没有待审核的告警", "No alerts to review"], "q.new": ["新告警", "New alert"],
  "a.confirm": ["确认立案", "Confirm"], "a.reject": ["误报", "Reject"], "a.skip": ["跳过", "Skip"],
  "a.open": ["放大", "Open"], "a.cancel": ["取消", "Cancel"], "a.ok": ["确定", "OK"],
  "a.save": ["保存", "Save"],
  "q.keys": ["快捷键：j/k 上下 · c 确认 · r 误报 · s 跳过 · o/回车 放大", "Keys: j/k next/prev · c confirm · r reject · s skip · o/Enter open"],
  "reject.title": ["标记为误报", "Reject as false alarm"], "reject.reason": ["原因", "Reason"],
  "reason.not_violation": ["非违规（正常停靠/上下客）", "Not a violation (loading, drop-off)"],
  "reason.wrong_object": ["识别错误的目标", "Wrong object detected"],
  "reason.outside_zone": ["不在禁停区域内", "Outside the zone"],
  "reason.duplicate": ["重复告警", "Duplicate alert"], "reason.bad_image": ["画面不清/遮挡", "Image unclear"],
  "reason.other": ["其他", "Other"],
  "ev.entry": ["驶入", "Entry"], "ev.middle": ["停留中", "Middle"], "ev.trigger": ["触发", "Trigger"],
  "d.duration": ["已持续", "Duration"], "d.ended": ["已离开", "Left"], "d.endedWithFootage": ["录像结束时仍在场", "Still there when the footage ended"], "d.endedRuleIdle": ["规则停用时仍在场", "Still there when the rule went idle"], "d.ongoing": ["仍在场", "Still there"],
  "d.place": ["地点", "Place"], "d.time": ["时间", "Time"], "d.object": ["目标", "Object"],
  "d.score": ["置信度", "Score"], "d.zone": ["区域", "Zone"], "d.rule": ["规则", "Rule"],
  "d.case": ["案件", "Case"], "d.event": ["告警", "Alert"],
  "toast.confirmed": ["已确认，已登记案件", "Confirmed, case registered"],
  "toast.rejected": ["已标记为误报", "Rejected as false alarm"], "toast.error": ["操作失败", "Action failed"],
  "toast.denied": ["无权限执行此操作", "Not allowed for your role"],
  "cs.new": ["待审核", "New"], "cs.open": ["待审核", "Open"], "cs.dispatched": ["已派遣", "Dispatched"],
  "cs.handled": ["已处置", "Handled"], "cs.verified": ["已核查", "Verified"], "cs.closed": ["已结案", "Closed"],
  "cs.reopened": ["已重开", "Reopened"], "cs.rejected": ["已驳回", "Rejected"],
  "c.overdue": ["已超时", "Overdue"], "c.deadline": ["期限", "Deadline"], "c.team": ["处置队伍", "Team"],
  "c.events": ["关联告警", "Events"], "c.photos": ["照片", "Photos"], "c.audit": ["处理记录", "Audit trail"],
  "c.note": ["备注", "Note"], "c.none": ["暂无案件", "No cases"], "c.back": ["返回案件列表", "Back to cases"],
  "c.created": ["立案时间", "Created"], "c.actions": ["操作", "Actions"],
  "t.dispatch": ["派遣", "Dispatch"], "t.handle": ["记录处置", "Record handling"], "t.verify": ["核查通过", "Verify"],
  "t.close": ["结案", "Close"], "t.reopen": ["重新打开", "Reopen"],
  "cam.state": ["状态", "State"], "cam.fps": ["分析帧率", "Analysis fps"], "cam.error": ["最近错误", "Last error"],
  "cam.cases": ["未结案件", "Open cases"], "cam.events": ["告警数", "Events"], "cam.noframe": ["暂无画面", "No frame yet"],
  "cam.zones": ["监测区域", "Zones"], "cam.rules": ["规则", "Rules"], "cam.back": ["返回摄像头墙", "Back to cameras"],
  "cam.reconnects": ["重连次数", "Reconnects"], "cam.dropped": ["丢帧", "Dropped frames"],
  "st.running": ["运行中", "running"], "st.starting": ["启动中", "starting"], "st.stalled": ["卡顿", "stalled"],
  "st.offline": ["离线", "offline"], "st.error": ["故障", "error"], "st.ended": ["已结束", "ended"],
  "st.stopped": ["已停止", "stopped"], "st.connecting": ["连接中", "connecting"], "st.reconnecting": ["重连中", "reconnecting"],
  "st.unknown": ["未知", "unknown"],
  "s.byType": ["每日案件数（按类型）", "Cases per day by type"],
  "s.byDistrict": ["每日案件数（按区）", "Cases per day by district"],
  "s.onTime": ["按期结案率", "On-time closure rate"], "s.uptime": ["摄像头在线率", "Camera uptime"],
  "s.days": ["近 14 天", "Last 14 days"], "s.total": ["合计", "Total"], "s.onTimeClosed": ["按期结案", "Closed on time"],
  "s.late": ["逾期结案", "Closed late"], "s.openOverdue": ["超期未结", "Open, overdue"],
  "err.load": ["加载失败", "Failed to load"], "loading": ["加载中…", "Loading…"],
  ago: ["前", "ago"], sec: ["秒", "s"], min: ["分", "min"], hour: ["小时", "h"],
};

let lang = localStorage.getItem("cw.lang") || "zh";
let timeZone = "Asia/Shanghai";

export function getLang() { return lang; }
export function setLang(value) { lang = value; localStorage.setItem("cw.lang", value); document.documentElement.lang = value === "zh" ? "zh-CN" : "en"; }
export function setTimeZone(value) { if (value) timeZone = value; }
export function getTimeZone() { return timeZone; }

/** The string for `key` in the current language (the key's last part when unknown). */
export function t(key) {
  const entry = STRINGS[key];
  if (!entry) return key.includes(".") ? key.split(".").slice(1).join(".") : key;
  return entry[lang === "zh" ? 0 : 1];
}

/** Fill every [data-i18n] element under `root`. */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}

function parts(value, options) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB", { timeZone, hour12: false, ...options }).format(date);
}
/** "2026-11-28 08:17:31" style, in the city's time zone. */
export function fmtDateTime(value) {
  if (!value) return "—";
  return parts(value, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
export function fmtShort(value) { return value ? parts(value, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }) : "—"; }
export function fmtTime(value) { return value ? parts(value, { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "—"; }
/** YYYY-MM-DD of `value` in the city's time zone. */
export function dayKey(value) {
  const date = value instanceof Date ? value : new Date(value);
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
}
/** 95 -> "1分35秒" / "1 min 35 s". */
export function fmtDuration(seconds) {
  if (seconds == null || Number.isNaN(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const sep = lang === "zh" ? "" : " ";
  const out = [];
  if (h) out.push(`${h}${sep}${t("hour")}`);
  if (h || m) out.push(`${m}${sep}${t("min")}`);
  if (!h) out.push(`${r}${sep}${t("sec")}`);
  return out.join(lang === "zh" ? "" : " ");
}
Object.assign(STRINGS, {
  "cs.registered": ["已立案", "Registered"],
  "t.registered": ["立案", "Register"], "t.rejected": ["不予立案", "Reject"], "t.dispatched": ["派遣", "Dispatch"],
  "c.handlingPhotos": ["处置照片", "On-site photos"], "c.newHotline": ["新建热线工单", "New hotline case"],
  "c.ticket": ["工单号", "Ticket"], "c.description": ["诉求内容", "Description"],
  "c.hotline": ["12345 工单", "Hotline ticket"], "c.overdueOnly": ["只看超时", "Overdue only"], "c.total": ["合计", "Total"], "t.redispatch": ["退回重办", "Send back"], "t.handled": ["记录处置", "Record handling"],
  "t.verified": ["核查通过", "Verify"], "t.closed": ["结案", "Close"],
  "rp.title": ["统计报表", "Report"], "rp.from": ["开始日期", "From"], "rp.to": ["结束日期", "To"], "rp.load": ["查询", "Show"],
  "rp.csv": ["导出 CSV", "Export CSV"], "rp.xlsx": ["导出 Excel", "Export Excel"], "rp.handled": ["已处置", "Handled"],
  "rp.onTime": ["按时处置率", "On time"], "rp.median": ["处置用时中位数（小时）", "Median handling (h)"],
  "rp.by_district": ["辖区排名", "By district"], "rp.by_street": ["街道排名", "By street"], "rp.by_team": ["队伍排名", "By team"], "rp.by_camera": ["摄像头排名", "By camera"],
  "rp.by_districtKey": ["辖区", "District"], "rp.by_streetKey": ["街道", "Street"], "rp.by_teamKey": ["队伍", "Team"], "rp.by_cameraKey": ["摄像头", "Camera"],
  "rp.falseByCamera": ["误报率（按摄像头）", "False alarms by camera"], "rp.falseByRule": ["误报率（按规则）", "False alarms by rule"],
  "rp.source": ["来源", "Source"], "rp.events": ["告警数", "Alerts"], "rp.reviewed": ["已审核", "Reviewed"], "rp.rejected": ["误报", "Rejected"], "rp.falseRate": ["误报率", "False-alarm rate"],
  "prio.low": ["低", "Low"], "prio.normal": ["普通", "Normal"], "prio.high": ["高", "High"], "prio.urgent": ["紧急", "Urgent"],
  "src.camera": ["视频发现", "Camera"], "src.hotline": ["12345 热线", "12345 hotline"], "src.manual": ["人工上报", "Manual"],
  "obj.car": ["小汽车", "Car"], "obj.truck": ["货车", "Truck"], "obj.bus": ["客车", "Bus"], "obj.motorcycle": ["摩托车", "Motorcycle"],
  "obj.bicycle": ["自行车", "Bicycle"], "obj.e-bike": ["电动自行车", "E-bike"], "obj.tricycle": ["三轮车", "Tricycle"], "obj.person": ["行人", "Person"],
  "obj.litter": ["垃圾", "Litter"], "obj.water": ["积水", "Water"],
  "q.repeats": ["同一案件的重复告警", "Repeats of one case"], "q.group": ["本案共 {n} 条待审告警", "{n} pending alerts of this case"],
  "a.confirmAll": ["全部确认", "Confirm all"], "a.rejectAll": ["全部误报", "Reject all"],
  "toast.bulk": ["已处理 {n}/{of} 条", "{n} of {of} decided"], "toast.attached": ["已确认，并入案件 #{id}（{status}）", "Confirmed, added to case #{id} ({status})"],
  "c.hours": ["处置时限", "Time allowed"], "c.intakeDeadline": ["按工单时限", "Ticket's deadline"], "c.h": ["小时", "h"], "c.teams": ["第一中队,第二中队,第三中队,机动中队,市容环卫队", "Squad 1,Squad 2,Squad 3,Mobile squad,Sanitation team"],
  "c.location": ["位置", "Location"], "c.source": ["来源", "Source"], "c.priority": ["优先级", "Priority"],
  "c.disposal": ["处置情况", "Disposal"], "c.rejectReason": ["不予立案原因", "Reject reason"],
  "c.showClosed": ["显示已结案", "Show closed"], "c.byStatus": ["按状态", "By status"],
  "au.open": ["开案", "opened"], "au.event": ["新告警并入", "event attached"], "au.transition": ["状态变更", "status change"],
  "au.review": ["审核", "review"],
});
Object.assign(STRINGS, {
  "st.online": ["在线", "online"], "cam.lastFrame": ["最新画面", "Last frame"], "cam.input": ["输入帧率", "Input fps"],
  "cam.source": ["视频源", "Source"], "cam.worker": ["运行位置", "Runs on"], "cam.inline": ["本机进程", "this process"],
  "cam.unassigned": ["未分配（工作进程重启中）", "unassigned (worker restarting)"], "cam.age": ["画面延迟", "Frame age"], "cam.groups": ["分组", "Groups"],
  "cam.mode": ["当前运行模式", "Current mode"], "cam.enabled": ["启用", "Enabled"], "cam.size": ["分辨率", "Resolution"],
  "group.flood": ["防汛", "Flood"],
});
Object.assign(STRINGS, {
  "s.cases": ["案件总数", "Cases"], "s.closed": ["已结案", "Closed"], "s.rate": ["按期结案率", "On-time rate"],
  "s.overdueNow": ["当前超期", "Overdue now"], "s.uptimeNote": ["统计周期内摄像头处于在线状态的时间占比", "Share of time each camera was online"],
  "s.noData": ["暂无数据", "No data yet"],
});
// playback: the camera timeline and the case page's clips and exports (timeline.js, cases.js)
Object.assign(STRINGS, {
  "tl.title": ["录像回放", "Recordings"], "tl.day": ["日期", "Day"], "tl.zoom": ["缩放", "Zoom"],
  "tl.z24h": ["24 小时", "24 h"], "tl.z1h": ["1 小时", "1 h"], "tl.z10m": ["10 分钟", "10 min"],
  "tl.panBack": ["向前平移", "Pan back"], "tl.panOn": ["向后平移", "Pan on"],
  "tl.back10": ["后退 10 秒", "Back 10 s"], "tl.fwd10": ["前进 10 秒", "Forward 10 s"],
  "tl.track": ["录像时间轴：点击从该时刻播放，左右键平移", "Recordings timeline: click to play from that moment, arrow keys pan"],
  "tl.none": ["该摄像头当天没有录像", "No recordings for this camera on this day"],
  "tl.continuousOff": ["该摄像头未开启连续录像，仅有告警片段", "Continuous recording is off for this camera: event clips only"],
  "tl.gap": ["该时刻无录像，从下一段开始播放", "No video at that moment: playing the next recording"],
  "tl.nothing": ["该时刻之后没有录像", "No recording at or after that moment"], "tl.failed": ["录像加载失败", "Could not load the recording"],
  "tl.k.segment": ["连续录像", "Recording"], "tl.k.clip": ["告警片段", "Event clip"], "tl.k.export": ["导出", "Export"],
  "c.clips": ["告警视频", "Event clips"], "c.exports": ["导出视频（证据）", "Exported video (evidence)"],
  "c.noExports": ["暂无导出视频", "No exports yet"], "c.export": ["导出视频", "Export video"],
  "c.exportStart": ["开始时间", "Start"], "c.exportEnd": ["结束时间", "End"], "c.download": ["下载", "Download"],
  "c.exported": ["视频已导出到案件", "Video exported to the case"], "c.exporting": ["导出中…", "Exporting…"],
  "c.badRange": ["结束时间须晚于开始时间", "The end must be after the start"],
  "tl.export": ["导出到案件", "Export to a case"], "tl.caseId": ["案件编号", "Case number"],
});
// live view: the camera page's player and the wall's split view (live.js, wall_live.js)
Object.assign(STRINGS, {
  "lv.live": ["实时", "Live"], "lv.still": ["最新画面", "Latest frame"],
  "lv.unavailable": ["本进程未接入该摄像头，无法实时观看", "Live view is not available in this process"],
  "lv.unplayable": ["该摄像头的视频编码浏览器无法直接播放", "This camera's codec cannot be played in a browser"],
  "lv.revoked": ["登录已失效，无法实时观看", "Signed out: live view stopped"],
  "lv.busy": ["实时观看人数已满，稍后重试…", "Too many live viewers, retrying…"],
  "lv.retrying": ["实时视频中断，重连中…", "Live video interrupted, reconnecting…"],
  "lv.disabled": ["摄像头未启用", "Camera switched off"],
  "wall.grid": ["画面墙", "Thumbnails"], "wall.split": ["分屏", "Split view"],
  "wall.split1": ["单画面", "1"], "wall.split4": ["4 分屏", "4"], "wall.split9": ["9 分屏", "9"], "wall.split16": ["16 分屏", "16"],
  "wall.prev": ["上一页", "Previous"], "wall.next": ["下一页", "Next"],
});
// parking enforcement by plate (issue #16): the case page's panel, plates, vehicles, the campaign report
Object.assign(STRINGS, {
  "nav.vehicles": ["车辆", "Vehicles"], "type.non_motor_parking": ["非机动车乱停", "Non-motor parking"],
  "pl.plate": ["车牌", "Plate"], "pl.none": ["未识别车牌", "No plate read"],
  "pl.blue": ["蓝牌", "blue plate"], "pl.yellow": ["黄牌", "yellow plate"], "pl.green": ["绿牌（新能源）", "green plate (new energy)"],
  "pl.white": ["白牌", "white plate"], "pl.black": ["黑牌", "black plate"], "pl.confidence": ["识别置信度", "confidence"],
  "en.title": ["执法处置", "Enforcement"], "en.first": ["首违", "First violation"],
  "en.repeat": ["多次违停", "Repeat offender"], "en.prior": ["此前违停", "earlier violations"], "en.times": ["次", ""],
  "en.strict": ["严管路段", "Strict section"], "en.waived": ["已免罚", "Waived"],
  "en.exempt": ["豁免车辆", "Exempt vehicle"], "en.exempt.listed": ["在豁免名单内（救护、消防、登记车辆等）", "On the exempt list (ambulance, fire, registered vehicles)"],
  "en.exempt.special": ["特种号牌（警用、使馆、领馆），不予处罚", "Special plate (police, embassy, consulate): not penalised"],
  "en.noticeAt": ["通知时间", "Notified at"], "en.leftAt": ["驶离时间", "Left at"], "en.stillThere": ["仍在场", "Still there"],
  "en.notYet": ["尚未通知", "Not yet"], "en.inGrace": ["宽限期内驶离", "left within the grace"],
  "en.steps": ["处置记录", "Steps"], "en.noSteps": ["尚无处置记录", "No steps yet"], "en.note": ["处置备注（可选）", "Note (optional)"],
  "en.suggested": ["建议下一步", "Suggested next step"], "en.recorded": ["已记录", "Recorded"],
  "en.waiverNo": ["不符合首违免罚条件（需首违、非严管路段、通知后宽限期内驶离）", "Not eligible (first violation, not a strict section, left within the grace after the notice)"],
  "en.towKind": ["拖移车辆类型", "What was towed"], "en.closed": ["案件已结束，不能再添加处置", "The case is over: no more steps"],
  "step.move_on": ["劝离", "Move on"], "step.card": ["张贴提醒卡", "Reminder card"], "step.phone": ["电话通知车主", "Phone the owner"],
  "step.notice": ["开具违停告知单", "Parking notice"], "step.waiver": ["首违免罚", "First-violation waiver"], "step.tow": ["拖移", "Tow"],
  "kind.car": ["机动车", "Car"], "kind.two_wheel": ["两轮电动车", "Two-wheel e-bike"], "kind.three_wheel": ["三轮电动车", "Three-wheel e-vehicle"],
  "kind.four_wheel_e": ["四轮电动车", "Four-wheel e-vehicle"],
  "ow.title": ["车主", "Owner"], "ow.none": ["未登记", "Not registered"], "ow.phone": ["电话", "Phone"], "ow.name": ["姓名", "Name"],
  "ow.lookup": ["查询车主电话", "Look up the owner's phone"], "ow.audited": ["查询已记录", "Lookup recorded"],
  "ow.notFound": ["未登记车主", "No owner registered"],
  "au.enforcement": ["执法处置", "enforcement"], "au.owner_lookup": ["查询车主", "owner lookup"],
  "v.title": ["多次违停车辆", "Repeat offenders"], "v.window": ["统计周期", "Window"], "v.days": ["天", "days"],
  "v.recent": ["周期内次数", "In window"], "v.total": ["累计次数", "Total"], "v.first": ["首次发现", "First seen"],
  "v.last": ["最近发现", "Last seen"], "v.none": ["周期内没有多次违停的车辆", "No repeat offenders in this window"],
  "v.back": ["返回车辆列表", "Back to vehicles"], "v.events": ["违停记录", "Events"], "v.cases": ["相关案件", "Cases"],
  "v.unknown": ["未找到该车牌的记录", "No vehicle with this plate"], "v.color": ["车牌颜色", "Plate colour"],
  "r.title": ["违停专项报表", "Parking campaign report"], "r.start": ["开始日期", "From"], "r.end": ["结束日期", "To"],
  "r.run": ["统计", "Run"], "r.csv": ["下载 CSV", "Download CSV"], "r.xlsx": ["下载 Excel", "Download Excel"],
  "r.item": ["项目", "Item"], "r.count": ["数量", "Count"], "r.badRange": ["结束日期不能早于开始日期", "The end must not be before the start"],
  "r.cases": ["违停案件数", "Parking cases"], "r.plates_read": ["识别车牌数", "Plates read"], "r.moved_on": ["劝离车辆数", "Moved on"],
  "r.cards": ["张贴提醒卡数", "Reminder cards"], "r.phone_notices": ["电话通知车主数", "Owners phoned"],
  "r.notices": ["开具违停告知单数", "Parking notices"], "r.waivers": ["首违免罚数", "First-violation waivers"],
  "r.towed_car": ["拖移车辆数（机动车）", "Towed (cars)"], "r.towed_two_wheel": ["拖移车辆数（两轮电动车）", "Towed (two-wheel e-bikes)"],
  "r.towed_three_wheel": ["拖移车辆数（三轮电动车）", "Towed (three-wheel)"], "r.towed_four_wheel_e": ["拖移车辆数（四轮电动车）", "Towed (four-wheel e-vehicles)"],
  "r.towed": ["拖移车辆合计", "Towed in all"], "r.repeat_offenders": ["多次违停车辆数", "Repeat offenders"],
  "r.owner_lookups": ["查询车主次数", "Owner lookups"], "r.responseCases": ["已处置案件数", "Cases with a step"],
  "r.median": ["首次处置用时中位数（分钟）", "Median minutes to the first step"], "r.max": ["首次处置最长用时（分钟）", "Longest minutes to the first step"],
});
// the connection to the server (issue #17)
Object.assign(STRINGS, {
  "conn.lost": ["与服务器的连接已断开，正在重试… 页面数据可能已过期", "Connection to the server lost, retrying… the data on this page may be out of date"],
  "conn.since": ["上次成功连接：", "Last contact:"],
  "conn.unreachable": ["无法连接服务器", "Cannot reach the server"],
  "conn.restored": ["已重新连接服务器，数据已刷新", "Reconnected; the page is up to date"],
});
// console polish (issue #17): new-alert sound and notification, the shift handover page, walk fixes
Object.assign(STRINGS, {
  "al.on": ["提醒：开", "Alerts: on"], "al.off": ["提醒：关", "Alerts: off"],
  "al.hint": ["新告警时响铃并弹出桌面通知（高优先级持续提醒，低优先级不提醒）", "Ring and show a desktop notification on a new alert (high priority stays, low stays silent)"],
  "al.denied": ["浏览器未允许桌面通知：仅响铃", "The browser does not allow notifications: sound only"],
  "nav.handover": ["交接班", "Handover"],
  "ho.title": ["交接班", "Shift handover"], "ho.shift": ["本班时长", "Shift length"], "ho.hours": ["最近 {n} 小时", "Last {n} h"],
  "ho.since": ["本班开始", "Shift began"], "ho.now": ["交班时间", "Handed over"], "ho.copy": ["复制", "Copy"], "ho.print": ["打印", "Print"],
  "ho.copied": ["交接班摘要已复制", "Handover summary copied"], "ho.pending": ["待审核告警", "Alerts awaiting review"],
  "ho.arrived": ["本班新增告警", "Alerts this shift"], "ho.open": ["未结案件", "Open cases"], "ho.overdue": ["超期案件", "Overdue cases"],
  "ho.offline": ["离线摄像头", "Cameras offline"], "ho.mode": ["运行模式", "Mode"], "ho.byStatus": ["未结案件（按状态）", "Open cases by status"],
  "ho.byTeam": ["未结案件（按队伍）", "Open cases by team"], "ho.noTeam": ["未派遣", "Not dispatched"],
  "ho.overdueList": ["超期案件", "Overdue cases"], "ho.dueSoon": ["{n} 小时内到期", "Due within {n} h"],
  "ho.none": ["无", "None"], "ho.partial": ["按最新的 {n} 件未结案件统计", "Counted over the newest {n} open cases"], "ho.offlineList": ["离线或状态未知的摄像头", "Cameras offline or of unknown state"], "ho.unknown": ["状态未知", "State unknown"],
  "ho.shiftWork": ["本班工作", "This shift"], "ho.opened": ["新立案件", "Cases opened"], "ho.handled": ["已处置", "Handled"],
  "ho.closed": ["已结案", "Closed"], "ho.switches": ["模式切换", "Mode switches"], "ho.count": ["数量", "Count"],
  "ho.status": ["状态", "Status"], "ho.case": ["案件", "Case"], "ho.deadline": ["期限", "Deadline"],
  "actor.system": ["系统", "system"], "actor.system:camera": ["摄像头自动核查", "camera check"],
  "tz.Asia/Shanghai": ["北京时间", "Shanghai"],
  "ho.team": ["队伍", "Team"], "ho.type": ["类型", "Type"], "ho.place": ["地点", "Place"], "ho.camera": ["摄像头", "Camera"],
});
// the camera wall for hundreds of cameras (issue #17): search, filters, pages, tours, health, full screen (wall.js)
Object.assign(STRINGS, {
  "wall.search": ["搜索名称、编号、区、街道", "Search name, id, district, street"], "wall.perPage": ["每页", "Per page"],
  "wall.count": ["共 {n} 路", "{n} cameras"], "wall.none": ["没有符合条件的摄像头", "No camera matches"],
  "wall.tour": ["轮巡", "Tour"], "wall.tourEvery": ["轮巡间隔", "Tour interval"], "wall.seconds": ["每 {n} 秒", "every {n} s"],
  "wall.start": ["开始轮巡", "Start tour"], "wall.pause": ["暂停轮巡", "Pause tour"],
  "wall.full": ["全屏上墙", "Full screen"], "wall.exitFull": ["退出全屏", "Leave full screen"], "wall.fullHint": ["全屏显示画面墙（F 键切换，Esc 退出；←/→ 翻页，P 暂停/继续轮巡）", "Full-screen wall (F toggles, Esc leaves; ←/→ page, P pauses the tour)"],
  "wall.health": ["摄像头在线情况", "Camera health"], "wall.allDistricts": ["全部", "All"], "wall.noDistrict": ["未分区", "No district"],
  "wall.h.online": ["在线", "online"], "wall.h.stalled": ["卡顿", "stalled"], "wall.h.offline": ["离线", "offline"], "wall.h.stopped": ["停用", "off"],
  "wall.e.refused": ["连接被拒绝", "connection refused"], "wall.e.timeout": ["连接超时", "timed out"], "wall.e.auth": ["认证失败", "not authorised"],
  "wall.e.notFound": ["视频地址不存在", "stream not found"], "wall.e.host": ["无法解析主机", "unknown host"], "wall.e.other": ["无法读取视频流", "cannot read the stream"],
  "group.school": ["学校周边", "Schools"], "group.market": ["农贸市场", "Markets"], "group.traffic": ["交通要道", "Main roads"],
});
// the map (一张图, issue #17): cameras and open cases on the configured map (map.js)
Object.assign(STRINGS, {
  "nav.map": ["一张图", "Map"], "map.title": ["一张图", "Map"],
  "map.cameras": ["摄像头", "Cameras"], "map.cases": ["未结案件", "Open cases"], "map.openCases": ["未结案件", "open cases"],
  "map.tone.ok": ["在线", "online"], "map.tone.wait": ["连接中/卡顿", "connecting or stalled"],
  "map.tone.bad": ["离线/故障", "offline or failing"], "map.tone.idle": ["停用/未知", "off or unknown"],
  "map.caseKey": ["该点位未结案件数", "open cases at that camera"],
  "map.unplaced": ["未标注位置的摄像头", "Cameras without a position"],
  "map.empty": ["没有摄像头标注了位置：请在配置文件中为摄像头填写经纬度或底图坐标", "No camera has a position: set cameras[].position (lat/lon or x/y) in the config"],
  "map.schematic": ["未配置底图，按摄像头经纬度绘制示意图", "No map configured (map:): a schematic from the cameras' positions"],
  "map.zoomIn": ["放大", "Zoom in"], "map.zoomOut": ["缩小", "Zoom out"],
  "map.noImage": ["底图加载失败", "The map image failed to load"],
});
// learning from operators' feedback (issue #18): the annotate dialog (annotate.js), suppressions (suppressions.js)
Object.assign(STRINGS, {
  "an.open": ["标注", "Annotate"], "an.title": ["标注目标", "Annotate objects"],
  "an.hint": ["在图上拖动画框；拖动框可移动，拖动右下角可调整大小；先选类别再画框，或选中框后改类别", "Drag on the image to draw a box; drag a box to move it, its corner to resize; pick the label before drawing, or select a box to change it"],
  "an.label": ["类别", "Label"], "an.remove": ["删除此框", "Remove this box"],
  "an.saved": ["已保存标注（{n} 个框）", "Annotation saved ({n} boxes)"],
  "an.noFrame": ["该摄像头暂无画面可标注", "No frame of this camera to annotate yet"],
  "nav.suppressions": ["误报抑制", "Suppressions"], "sp.title": ["误报抑制", "Suppressions"],
  "sp.hint": ["同一摄像头、同一位置、同一原因多次被判为误报的告警，系统会建议在该区域不再告警；启用后命中的告警只记录不派发", "Alerts rejected several times for the same reason at the same place propose a suppression there; once active, matching alerts are kept but not raised"],
  "sp.none": ["暂无误报抑制建议", "No suppression learnt yet"],
  "sp.st.proposed": ["待启用", "Proposed"], "sp.st.active": ["已启用", "Active"], "sp.st.revoked": ["已撤销", "Revoked"],
  "sp.label": ["目标类别", "Object"], "sp.reason": ["误报原因", "Reason"], "sp.learnt": ["依据", "Learnt from"],
  "sp.fromN": ["{n} 次误报", "{n} rejections"], "sp.held": ["已抑制告警", "Alerts held back"],
  "sp.confidence": ["置信度低于", "Confidence under"], "sp.created": ["建议时间", "Proposed at"], "sp.decided": ["决定人", "Decided by"],
  "sp.activate": ["启用", "Activate"], "sp.reactivate": ["重新启用", "Activate again"],
  "sp.undo": ["撤销", "Undo"], "sp.dismiss": ["忽略", "Dismiss"],
  "sp.activated": ["已启用误报抑制", "Suppression activated"], "sp.revoked": ["已撤销误报抑制", "Suppression revoked"],
  "review.suppressed": ["已抑制", "Suppressed"],
});
// bay occupation, floating debris and e-vehicle kinds (issue #18): rule types and Citywatch labels (vision/labels.py)
Object.assign(STRINGS, {
  "type.parking_space_occupied": ["霸占停车资源", "Parking bay occupied"], "type.floating_debris": ["河面漂浮物", "Floating debris"],
  "obj.low_speed_ev": ["四轮低速电动车", "Low-speed four-wheel EV"], "obj.traffic_cone": ["锥桶", "Traffic cone"],
  "obj.parking_lock": ["地锁", "Parking lock"], "obj.chair": ["椅子", "Chair"], "obj.obstacle": ["杂物", "Obstacle"],
  "obj.debris": ["漂浮物", "Floating debris"],
});
// verification beside the camera's current frame (cases.js); the queue's next page (queue.js)
Object.assign(STRINGS, {
  "q.more": ["加载更多", "Load more"], "q.remaining": ["还有", "remaining"],
  "vf.title": ["核查：现场对比", "Verification: then and now"], "vf.now": ["摄像头当前画面", "The camera now"],
  "vf.refresh": ["刷新", "Refresh"], "vf.noFrame": ["暂无当前画面", "No current frame"],
  "vf.auto": ["自动核查", "Automatic check"], "vf.noAuto": ["自动核查尚无结果（摄像头看到区域清空后自动记录）", "No automatic check yet (recorded once the camera sees the zone clear)"],
});
