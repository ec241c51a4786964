import gymnasium
import ast
import json


def _require_interval(value, name):
    if (
        not isinstance(value, list)
        or len(value) != 2
        or any(isinstance(x, bool) or not isinstance(x, int) for x in value)
    ):
        raise ValueError(f"parameter '{name}' must be a list of two integers [start, end]")
    if value[0] > value[1]:
        raise ValueError(f"parameter '{name}' has start greater than end")
    return value


class MergeIntervalsEnv(gymnasium.Env):
    """Merge overlapping closed intervals [start, end] of integers: intervals that overlap or
    merely touch are joined ([1, 4] and [4, 5] become [1, 5]), while [1, 2] and [3, 4] stay apart.
    Observe shows the intervals; use SortIntervals and MergePair and submit the merged intervals
    with Done as a JSON list of [start, end] pairs sorted by start."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.SORT_INTERVALS = 1
        self.MERGE_PAIR = 2
        self.DONE = 3
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "SortIntervals": self.SORT_INTERVALS,
            "MergePair": self.MERGE_PAIR,
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
        prefix = "MergeIntervalsEnv@"
        if not env_str.startswith(prefix):
            return None
        return MergeIntervalsEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.intervals = [list(iv) for iv in options.get("intervals", [])]
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        merged = []
        for start, end in sorted(self.intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return merged

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
            elif action_code == self.SORT_INTERVALS:
                msg = self.SortIntervals()
            elif action_code == self.MERGE_PAIR:
                if "first" in params and "second" in params:
                    msg = self.MergePair(params["first"], params["second"])
                else:
                    msg = "Error: 'first' or 'second' parameter is missing for MergePair action."
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
        Return the closed intervals [start, end] to be merged.

        Returns:
            str: JSON list of [start, end] pairs.

        Example Output:
            "[[1, 3], [8, 10], [2, 6], [15, 18]]"
        """
        return json.dumps(self.intervals)

    def SortIntervals(self):
        r"""
        Return the intervals sorted by start (ties broken by end).

        Returns:
            str: JSON list of [start, end] pairs in sorted order.

        Example Output:
            "[[1, 3], [2, 6], [8, 10], [15, 18]]"
        """
        return json.dumps(sorted(self.intervals))

    def MergePair(self, first, second):
        r"""
        Merge two closed intervals if they overlap or touch (share at least one point).

        Args:
            first (list[int]): an interval [start, end].
            second (list[int]): another interval [start, end].

        Returns:
            str: JSON of the merged [start, end] interval, or "No overlap" if they are disjoint.

        Example Output:
            "[1, 6]"
        """
        first = _require_interval(first, "first")
        second = _require_interval(second, "second")
        if max(first[0], second[0]) <= min(first[1], second[1]):
            return json.dumps([min(first[0], second[0]), max(first[1], second[1])])
        return "No overlap"

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (list[list[int]]): the merged intervals, sorted by start.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: [[1, 6], [8, 10], [15, 18]], reference answer: [[1, 6], [8, 10], [15, 18]], result: correct, reward=1"
        """
        if not isinstance(answer, list):
            raise ValueError("parameter 'answer' must be a list of [start, end] pairs")
        for iv in answer:
            _require_interval(iv, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        self.step(json.dumps({"name": "Observe", "parameters": {}}))
        ordered = json.loads(self.step(json.dumps({"name": "SortIntervals", "parameters": {}}))[1])
        merged = []
        current = ordered[0] if ordered else None
        for nxt in ordered[1:]:
            result = self.step(json.dumps({"name": "MergePair", "parameters": {"first": current, "second": nxt}}))[1]
            if result == "No overlap":
                merged.append(current)
                current = nxt
            else:
                current = json.loads(result)
        if current is not None:
            merged.append(current)
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": merged}}))[1]


if __name__ == "__main__":
    env = MergeIntervalsEnv.from_env_str('MergeIntervalsEnv@{"intervals": [[1, 3], [8, 10], [2, 6], [15, 18]]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = MergeIntervalsEnv.from_env_str('MergeIntervalsEnv@{"intervals": [[1, 4], [4, 5]]}')
    print(env.solve())
    print("step count:", env.step_count)
