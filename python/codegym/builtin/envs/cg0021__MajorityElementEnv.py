import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class MajorityElementEnv(gymnasium.Env):
    """Find the majority element of an integer array: the value that occurs more than len(nums) / 2
    times (one always exists). Observe shows the array; run the Boyer-Moore vote with Vote and
    GetCandidate (CountOccurrences can verify a candidate) and submit the value as an integer with
    Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.VOTE = 1
        self.GET_CANDIDATE = 2
        self.COUNT_OCCURRENCES = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "Vote": self.VOTE,
            "GetCandidate": self.GET_CANDIDATE,
            "CountOccurrences": self.COUNT_OCCURRENCES,
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
        prefix = "MajorityElementEnv@"
        if not env_str.startswith(prefix):
            return None
        return MajorityElementEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.nums = list(options.get("nums", []))
        # Boyer-Moore vote state: elements 0..processed-1 have been voted
        self.processed = 0
        self.candidate = None
        self.count = 0
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        from collections import Counter

        counts = Counter(self.nums)
        for value in sorted(counts):
            if 2 * counts[value] > len(self.nums):
                return value
        return None

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
            elif action_code == self.VOTE:
                if "i" in params:
                    msg = self.Vote(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for Vote action."
            elif action_code == self.GET_CANDIDATE:
                msg = self.GetCandidate()
            elif action_code == self.COUNT_OCCURRENCES:
                if "value" in params:
                    msg = self.CountOccurrences(params["value"])
                else:
                    msg = "Error: 'value' parameter is missing for CountOccurrences action."
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
        Return the integer array. One value occurs more than len(nums) / 2 times; the task is
        to find it.

        Returns:
            str: JSON list of integers.

        Example Output:
            "[2, 2, 1, 1, 1, 2, 2]"
        """
        return json.dumps(self.nums)

    def Vote(self, i):
        r"""
        Perform one step of the Boyer-Moore majority vote on nums[i]. Elements must be voted in
        order 0, 1, 2, ...: if the count is 0, nums[i] becomes the candidate; then the count
        goes up by 1 if nums[i] equals the candidate and down by 1 otherwise.

        Args:
            i (int): index of the next unvoted element, 0..len(nums)-1.

        Returns:
            str: JSON object with keys "i", "candidate" and "count" after the step.

        Example Output:
            "{\"i\": 2, \"candidate\": 2, \"count\": 1}"
        """
        i = _require_int(i, "i")
        n = len(self.nums)
        if n == 0:
            raise ValueError("the array is empty")
        if i < 0 or i >= n:
            raise ValueError(f"index {i} out of range 0..{n - 1}")
        if i < self.processed:
            raise ValueError(f"element {i} has already been voted; the next index is {self.processed}")
        if i > self.processed:
            raise ValueError(f"element {self.processed} must be voted before element {i}")
        value = self.nums[i]
        if self.count == 0:
            self.candidate = value
        if value == self.candidate:
            self.count += 1
        else:
            self.count -= 1
        self.processed = i + 1
        return json.dumps({"i": i, "candidate": self.candidate, "count": self.count})

    def GetCandidate(self):
        r"""
        Return the current Boyer-Moore candidate and its count (at least one element must have
        been voted).

        Returns:
            str: JSON object with keys "processed", "candidate" and "count".

        Example Output:
            "{\"processed\": 7, \"candidate\": 2, \"count\": 1}"
        """
        if self.processed == 0:
            raise ValueError("no element has been voted yet")
        return json.dumps({"processed": self.processed, "candidate": self.candidate, "count": self.count})

    def CountOccurrences(self, value):
        r"""
        Count how many times a value occurs in the array (to verify a candidate).

        Args:
            value (int): the value to count.

        Returns:
            str: the number of occurrences as an integer.

        Example Output:
            "4"
        """
        value = _require_int(value, "value")
        return str(sum(1 for x in self.nums if x == value))

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the majority element.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 2, reference answer: 2, result: correct, reward=1"
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
        nums = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        for i in range(len(nums)):
            self.step(json.dumps({"name": "Vote", "parameters": {"i": i}}))
        state = json.loads(self.step(json.dumps({"name": "GetCandidate", "parameters": {}}))[1])
        candidate = state["candidate"]
        self.step(json.dumps({"name": "CountOccurrences", "parameters": {"value": candidate}}))
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": candidate}}))[1]


if __name__ == "__main__":
    env = MajorityElementEnv.from_env_str('MajorityElementEnv@{"nums": [2, 2, 1, 1, 1, 2, 2]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = MajorityElementEnv.from_env_str('MajorityElementEnv@{"nums": [3, 2, 3]}')
    print(env.solve())
    print("step count:", env.step_count)
