import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class HouseRobberEnv(gymnasium.Env):
    """Find the maximum amount of money that can be robbed from the houses along a street without
    robbing two adjacent houses. Observe shows the amounts; extend the DP house by house with
    ConsiderHouse, read values with GetBest and submit the maximum as an integer with Done (0 when
    there are no houses)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.CONSIDER_HOUSE = 1
        self.GET_BEST = 2
        self.DONE = 3
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "ConsiderHouse": self.CONSIDER_HOUSE,
            "GetBest": self.GET_BEST,
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
        prefix = "HouseRobberEnv@"
        if not env_str.startswith(prefix):
            return None
        return HouseRobberEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.nums = list(options.get("nums", []))
        # best[i] = maximum loot from houses 0..i with no two adjacent robbed; None until computed
        self.best = [None] * len(self.nums)
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        skip, take = 0, 0  # best loot so far without / with robbing the latest house
        for money in self.nums:
            skip, take = max(skip, take), skip + money
        return max(skip, take)

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
            elif action_code == self.CONSIDER_HOUSE:
                if "i" in params:
                    msg = self.ConsiderHouse(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for ConsiderHouse action."
            elif action_code == self.GET_BEST:
                if "i" in params:
                    msg = self.GetBest(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for GetBest action."
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

    def _check_house(self, i):
        i = _require_int(i, "i")
        if i < 0 or i >= len(self.nums):
            raise ValueError(f"house index {i} out of range 0..{len(self.nums) - 1}")
        return i

    # --- tools ---
    def Observe(self):
        r"""
        Return the amount of money in each house along a street. Robbing two adjacent houses
        is not allowed; the maximum total that can be robbed is wanted (robbing nothing
        gives 0).

        Returns:
            str: JSON object with key "nums".

        Example Output:
            "{\"nums\": [2, 7, 9, 3, 1]}"
        """
        return json.dumps({"nums": self.nums})

    def ConsiderHouse(self, i):
        r"""
        Extend the DP to house i: best[i] = max(best[i-1], best[i-2] + nums[i]), where
        best of a missing house (index -1 or -2) is 0. best[i-1] must already be computed,
        so call this for 0, 1, 2, ... in order.

        Args:
            i (int): house index, 0..len(nums)-1.

        Returns:
            str: JSON object with best[i] and whether robbing house i gives it.

        Example Output:
            "{\"i\": 2, \"best\": 11, \"rob_house\": true}"
        """
        i = self._check_house(i)
        if i >= 1 and self.best[i - 1] is None:
            raise ValueError(f"best[{i - 1}] must be computed before best[{i}]")
        without = self.best[i - 1] if i >= 1 else 0
        with_house = (self.best[i - 2] if i >= 2 else 0) + self.nums[i]
        value = max(without, with_house)
        self.best[i] = value
        return json.dumps({"i": i, "best": value, "rob_house": with_house > without})

    def GetBest(self, i):
        r"""
        Read the already computed best[i]: the maximum loot from houses 0..i.

        Args:
            i (int): house index, 0..len(nums)-1.

        Returns:
            str: the value as an integer.

        Example Output:
            "12"
        """
        i = self._check_house(i)
        if self.best[i] is None:
            raise ValueError(f"best[{i}] has not been computed yet")
        return str(self.best[i])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the maximum amount that can be robbed without robbing two adjacent houses.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 12, reference answer: 12, result: correct, reward=1"
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
        task = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        n = len(task["nums"])
        result = 0
        for i in range(n):
            self.step(json.dumps({"name": "ConsiderHouse", "parameters": {"i": i}}))
        if n > 0:
            result = int(self.step(json.dumps({"name": "GetBest", "parameters": {"i": n - 1}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": result}}))[1]


if __name__ == "__main__":
    env = HouseRobberEnv.from_env_str('HouseRobberEnv@{"nums": [2, 7, 9, 3, 1]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = HouseRobberEnv.from_env_str('HouseRobberEnv@{"nums": [1, 2, 3, 1]}')
    print(env.solve())
    print("step count:", env.step_count)
