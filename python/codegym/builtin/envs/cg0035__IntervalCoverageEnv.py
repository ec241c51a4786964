import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class IntervalCoverageEnv(gymnasium.Env):
    """Find the total length of the union of half-open intervals [a, b), given as [a, b] with a
    <= b (a == b is empty): the length covered by at least one interval, overlaps counted once.
    Observe shows the intervals; sweep them in start order with SortByStart, AddInterval and
    GetCoveredLength and submit the length as an integer with Done (0 if there are no
    intervals)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.SORT_BY_START = 1
        self.ADD_INTERVAL = 2
        self.GET_COVERED_LENGTH = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "SortByStart": self.SORT_BY_START,
            "AddInterval": self.ADD_INTERVAL,
            "GetCoveredLength": self.GET_COVERED_LENGTH,
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
        prefix = "IntervalCoverageEnv@"
        if not env_str.startswith(prefix):
            return None
        return IntervalCoverageEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        # intervals: [a, b] stands for the half-open interval [a, b) with a <= b
        self.intervals = [list(iv) for iv in options.get("intervals", [])]
        # sweep state: the open block [block_start, block_end) and the length of closed blocks
        self.block = None
        self.closed_length = 0
        self.last_start = None
        self.added = set()
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data (coordinate sweep)."""
        events = []
        for a, b in self.intervals:
            if a < b:
                events.append((a, 1))
                events.append((b, -1))
        events.sort()
        total = 0
        depth = 0
        prev = None
        for x, delta in events:
            if depth > 0:
                total += x - prev
            depth += delta
            prev = x
        return total

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
            elif action_code == self.SORT_BY_START:
                msg = self.SortByStart()
            elif action_code == self.ADD_INTERVAL:
                if "index" in params:
                    msg = self.AddInterval(params["index"])
                else:
                    msg = "Error: 'index' parameter is missing for AddInterval action."
            elif action_code == self.GET_COVERED_LENGTH:
                msg = self.GetCoveredLength()
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

    def _covered(self):
        open_length = 0 if self.block is None else self.block[1] - self.block[0]
        return self.closed_length + open_length

    # --- tools ---
    def Observe(self):
        r"""
        Return the half-open intervals [a, b) (each given as [a, b] with a <= b; a == b is empty).
        The total length of their union, i.e. of all points covered by at least one interval,
        is wanted.

        Returns:
            str: JSON list of [a, b] pairs; interval i is element i.

        Example Output:
            "[[1, 4], [2, 6], [8, 9]]"
        """
        return json.dumps(self.intervals)

    def SortByStart(self):
        r"""
        Return the interval indices sorted by start point (ties broken by end point, then index).

        Returns:
            str: JSON list of interval indices.

        Example Output:
            "[0, 1, 2]"
        """
        order = sorted(range(len(self.intervals)), key=lambda i: (self.intervals[i][0], self.intervals[i][1], i))
        return json.dumps(order)

    def AddInterval(self, index):
        r"""
        Sweep step: add interval `index` to the union being built. Intervals must be added in
        order of non-decreasing start. If the interval starts after the end of the current
        block, the block is closed (its length is counted) and a new block starts at the
        interval; otherwise the block is extended to cover the interval.

        Args:
            index (int): interval index, 0..len(intervals)-1; each interval can be added once.

        Returns:
            str: JSON object with "block" (the current block [start, end]) and "closed_length"
            (total length of the blocks closed so far).

        Example Output:
            "{\"block\": [1, 6], \"closed_length\": 0}"
        """
        index = _require_int(index, "index")
        if index < 0 or index >= len(self.intervals):
            if not self.intervals:
                raise ValueError("there are no intervals")
            raise ValueError(f"interval index {index} out of range 0..{len(self.intervals) - 1}")
        if index in self.added:
            raise ValueError(f"interval {index} has already been added")
        a, b = self.intervals[index]
        if self.last_start is not None and a < self.last_start:
            raise ValueError(
                f"interval {index} starts at {a}, before the previously added start {self.last_start}; "
                "add intervals in order of non-decreasing start"
            )
        self.added.add(index)
        self.last_start = a
        if a < b:
            if self.block is None:
                self.block = [a, b]
            elif a > self.block[1]:
                self.closed_length += self.block[1] - self.block[0]
                self.block = [a, b]
            else:
                self.block[1] = max(self.block[1], b)
        return json.dumps({"block": self.block, "closed_length": self.closed_length})

    def GetCoveredLength(self):
        r"""
        Return the length covered by the intervals added so far (closed blocks plus the current block).

        Returns:
            str: the length as an integer.

        Example Output:
            "6"
        """
        return str(self._covered())

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the total length of the union of the intervals.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 6, reference answer: 6, result: correct, reward=1"
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
        self.step(json.dumps({"name": "Observe", "parameters": {}}))
        order = json.loads(self.step(json.dumps({"name": "SortByStart", "parameters": {}}))[1])
        for index in order:
            self.step(json.dumps({"name": "AddInterval", "parameters": {"index": index}}))
        length = int(self.step(json.dumps({"name": "GetCoveredLength", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": length}}))[1]


if __name__ == "__main__":
    env = IntervalCoverageEnv.from_env_str('IntervalCoverageEnv@{"intervals": [[1, 4], [2, 6], [8, 9]]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = IntervalCoverageEnv.from_env_str('IntervalCoverageEnv@{"intervals": [[-5, -2], [-2, 0], [3, 3]]}')
    print(env.solve())
    print("step count:", env.step_count)
