import gymnasium
import ast
import json

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ANCHOR_DATE = "2000-01-01"
ANCHOR_WEEKDAY = "Saturday"


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


def _is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year, month):
    if month == 2:
        return 29 if _is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


class WeekdayAfterDaysEnv(gymnasium.Env):
    """Find the weekday of the date k days after a start date (YYYY-MM-DD, proleptic Gregorian
    calendar; a negative k goes back in time, k = 0 is the start date itself). Observe shows the
    date, k and an anchor (2000-01-01 was a Saturday); count days with DaysInYear and DaysInMonth,
    move with ShiftWeekday, and submit the full English weekday name as a string with Done, e.g.
    "Friday"."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.DAYS_IN_YEAR = 1
        self.DAYS_IN_MONTH = 2
        self.SHIFT_WEEKDAY = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "DaysInYear": self.DAYS_IN_YEAR,
            "DaysInMonth": self.DAYS_IN_MONTH,
            "ShiftWeekday": self.SHIFT_WEEKDAY,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "WeekdayAfterDaysEnv@"
        if not env_str.startswith(prefix):
            return None
        return WeekdayAfterDaysEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.date = str(options.get("date", ANCHOR_DATE))
        self.k = int(options.get("k", 0))
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        from datetime import date

        ordinal = date.fromisoformat(self.date).toordinal()
        # ordinal 1 (0001-01-01) is a Monday
        return WEEKDAYS[(ordinal - 1 + self.k) % 7]

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.DAYS_IN_YEAR:
                if "year" in params:
                    msg = self.DaysInYear(params["year"])
                else:
                    msg = "Error: 'year' parameter is missing for DaysInYear action."
            elif action_code == self.DAYS_IN_MONTH:
                if "year" in params and "month" in params:
                    msg = self.DaysInMonth(params["year"], params["month"])
                else:
                    msg = "Error: 'year' or 'month' parameter is missing for DaysInMonth action."
            elif action_code == self.SHIFT_WEEKDAY:
                if "weekday" in params and "days" in params:
                    msg = self.ShiftWeekday(params["weekday"], params["days"])
                else:
                    msg = "Error: 'weekday' or 'days' parameter is missing for ShiftWeekday action."
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    # --- tools ---
    def Observe(self):
        r"""
        Return the start date (YYYY-MM-DD, proleptic Gregorian calendar), the number of days k
        to add (negative k goes back in time) and a known anchor: the weekday of 2000-01-01.
        The task is the weekday name of the date k days after the start date.

        Returns:
            str: JSON object with keys "date", "k", "anchor_date" and "anchor_weekday".

        Example Output:
            "{\"date\": \"2024-03-15\", \"k\": 100, \"anchor_date\": \"2000-01-01\",
              \"anchor_weekday\": \"Saturday\"}"
        """
        return json.dumps(
            {"date": self.date, "k": self.k, "anchor_date": ANCHOR_DATE, "anchor_weekday": ANCHOR_WEEKDAY}
        )

    def DaysInYear(self, year):
        r"""
        Return the number of days in a year of the Gregorian calendar (366 for leap years:
        divisible by 4, except centuries not divisible by 400).

        Args:
            year (int): the year, 1..9999.

        Returns:
            str: 365 or 366.

        Example Output:
            "366"
        """
        year = _require_int(year, "year")
        if year < 1 or year > 9999:
            raise ValueError(f"year {year} out of range 1..9999")
        return "366" if _is_leap(year) else "365"

    def DaysInMonth(self, year, month):
        r"""
        Return the number of days in one month of a given year.

        Args:
            year (int): the year, 1..9999.
            month (int): the month, 1..12.

        Returns:
            str: the number of days, 28..31.

        Example Output:
            "29"
        """
        year = _require_int(year, "year")
        month = _require_int(month, "month")
        if year < 1 or year > 9999:
            raise ValueError(f"year {year} out of range 1..9999")
        if month < 1 or month > 12:
            raise ValueError(f"month {month} out of range 1..12")
        return str(_days_in_month(year, month))

    def ShiftWeekday(self, weekday, days):
        r"""
        Return the weekday that falls a given number of days after a day with the given
        weekday (negative days count backwards); only days modulo 7 matters.

        Args:
            weekday (str): an English weekday name, e.g. "Saturday" (case-insensitive).
            days (int): the number of days to move, any integer.

        Returns:
            str: the resulting weekday name.

        Example Output:
            "Monday"
        """
        if not isinstance(weekday, str):
            raise ValueError("parameter 'weekday' must be a string such as \"Monday\"")
        names = [w.lower() for w in WEEKDAYS]
        key = weekday.strip().lower()
        if key not in names:
            raise ValueError(f"unknown weekday {json.dumps(weekday)}; expected one of {', '.join(WEEKDAYS)}")
        days = _require_int(days, "days")
        return WEEKDAYS[(names.index(key) + days) % 7]

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (str): the English weekday name of the start date plus k days, e.g. "Friday".

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: Friday, reference answer: Friday, result: correct, reward=1"
        """
        if not isinstance(answer, str):
            raise ValueError("parameter 'answer' must be a weekday name such as \"Friday\"")
        ref_answer = self.get_ref_answer()
        correct = answer.strip().lower() == ref_answer.lower()
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        task = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        year, month, day = (int(part) for part in task["date"].split("-"))
        anchor_year = int(task["anchor_date"].split("-")[0])
        # days from the anchor (1 January of anchor_year) to 1 January of the start year
        offset = 0
        if year >= anchor_year:
            for y in range(anchor_year, year):
                offset += int(self.step(json.dumps({"name": "DaysInYear", "parameters": {"year": y}}))[1])
        else:
            for y in range(year, anchor_year):
                offset -= int(self.step(json.dumps({"name": "DaysInYear", "parameters": {"year": y}}))[1])
        # then to the first day of the start month, then to the start day
        for m in range(1, month):
            days = self.step(json.dumps({"name": "DaysInMonth", "parameters": {"year": year, "month": m}}))[1]
            offset += int(days)
        offset += day - 1
        shift = {"weekday": task["anchor_weekday"], "days": offset + task["k"]}
        name = self.step(json.dumps({"name": "ShiftWeekday", "parameters": shift}))[1]
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": name}}))[1]


if __name__ == "__main__":
    env = WeekdayAfterDaysEnv.from_env_str('WeekdayAfterDaysEnv@{"date": "2024-03-15", "k": 100}')
    print(env.solve())
    print("step count:", env.step_count)
    env = WeekdayAfterDaysEnv.from_env_str('WeekdayAfterDaysEnv@{"date": "1969-07-20", "k": -365}')
    print(env.solve())
    print("step count:", env.step_count)
