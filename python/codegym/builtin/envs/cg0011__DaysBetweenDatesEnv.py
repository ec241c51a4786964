import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class DaysBetweenDatesEnv(gymnasium.Env):
    """Find the number of days between two dates written YYYY-MM-DD in the Gregorian calendar.
    Observe shows the two dates; convert them with ParseDate and Difference and submit the absolute
    difference as a non-negative integer with Done (0 for the same date, 1 for consecutive days,
    whichever date comes first)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.PARSE_DATE = 1
        self.DIFFERENCE = 2
        self.DONE = 3
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "ParseDate": self.PARSE_DATE,
            "Difference": self.DIFFERENCE,
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
        prefix = "DaysBetweenDatesEnv@"
        if not env_str.startswith(prefix):
            return None
        return DaysBetweenDatesEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.date1 = str(options.get("date1", "2000-01-01"))
        self.date2 = str(options.get("date2", "2000-01-01"))
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        from datetime import datetime

        first = datetime.strptime(self.date1, "%Y-%m-%d").toordinal()
        second = datetime.strptime(self.date2, "%Y-%m-%d").toordinal()
        return abs(first - second)

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
            elif action_code == self.PARSE_DATE:
                if "date" in params:
                    msg = self.ParseDate(params["date"])
                else:
                    msg = "Error: 'date' parameter is missing for ParseDate action."
            elif action_code == self.DIFFERENCE:
                if "a" in params and "b" in params:
                    msg = self.Difference(params["a"], params["b"])
                else:
                    msg = "Error: 'a' or 'b' parameter is missing for Difference action."
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
        Return the two dates (YYYY-MM-DD) whose distance in days is wanted.

        Returns:
            str: JSON object with keys "date1" and "date2".

        Example Output:
            "{\"date1\": \"2023-03-15\", \"date2\": \"2024-03-15\"}"
        """
        return json.dumps({"date1": self.date1, "date2": self.date2})

    def ParseDate(self, date):
        r"""
        Parse a date written as YYYY-MM-DD and return its proleptic Gregorian ordinal
        (day 1 is 0001-01-01), so that subtracting two ordinals gives a number of days.

        Args:
            date (str): the date, e.g. "2023-03-15".

        Returns:
            str: the ordinal as an integer.

        Example Output:
            "738594"
        """
        from datetime import datetime

        if not isinstance(date, str):
            raise ValueError("parameter 'date' must be a string")
        try:
            parsed = datetime.strptime(date, "%Y-%m-%d")
        except ValueError:
            raise ValueError(f"invalid date {json.dumps(date)}, expected a real date as YYYY-MM-DD")
        return str(parsed.toordinal())

    def Difference(self, a, b):
        r"""
        Return the absolute difference between two day ordinals.

        Args:
            a (int): the first ordinal.
            b (int): the second ordinal.

        Returns:
            str: |a - b| as an integer.

        Example Output:
            "366"
        """
        a = _require_int(a, "a")
        b = _require_int(b, "b")
        return str(abs(a - b))

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the number of days between the two dates (non-negative).

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 366, reference answer: 366, result: correct, reward=1"
        """
        answer = _require_int(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        dates = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        first = int(self.step(json.dumps({"name": "ParseDate", "parameters": {"date": dates["date1"]}}))[1])
        second = int(self.step(json.dumps({"name": "ParseDate", "parameters": {"date": dates["date2"]}}))[1])
        days = int(self.step(json.dumps({"name": "Difference", "parameters": {"a": first, "b": second}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": days}}))[1]


if __name__ == "__main__":
    env = DaysBetweenDatesEnv.from_env_str('DaysBetweenDatesEnv@{"date1": "2023-03-15", "date2": "2024-03-15"}')
    print(env.solve())
    print("step count:", env.step_count)
